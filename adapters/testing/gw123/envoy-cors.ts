/** The 2019 envoy.yaml CORS policy. */
export const ENVOY_CORS = {
  allowMethods: "GET, PUT, DELETE, POST, OPTIONS",
  /** The commentModule envoy.yaml. */
  allowHeaders:
    "keep-alive,user-agent,cache-control,content-type,content-transfer-encoding,custom-header-1," +
    "x-accept-content-transfer-encoding,x-accept-response-streaming,x-user-agent,x-grpc-web,grpc-timeout",
  /** The root-level envoy.yaml: `dec-cache-control` (sic) and two more headers. */
  rootAllowHeaders:
    "keep-alive,user-agent,dec-cache-control,content-type,content-transfer-encoding,custom-header-1," +
    "x-accept-content-transfer-encoding,x-accept-response-streaming,x-user-agent,x-grpc-web,grpc-timeout," +
    "client_id,api_token",
  exposeHeaders: "custom-header-1,grpc-status,grpc-message",
  maxAge: "1728000",
} as const;
