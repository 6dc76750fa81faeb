import { GmqError } from "gmq";
import type { Channel } from "nice-grpc-web";
import type { GrpcServiceDefinition } from "./services.js";

export interface GrpcWebOptions {
  /** The gRPC-web endpoint, e.g. Envoy's `http://host:8080`; paths are `/<package.Service>/<method>`. */
  url: string;
  /** The ts-proto service definitions the app uses (`outputServices=generic-definitions`), e.g.
   *  `[CommentServiceDefinition]`. Only their services and methods can be named. */
  services: readonly GrpcServiceDefinition[];
  /**
   * `binary` (default): `application/grpc-web+proto`, through nice-grpc-web's fetch transport.
   * `text`: `application/grpc-web-text`, base64 both ways, as the upstream grpc-web JS stub and
   * many proxies speak it.
   */
  mode?: "binary" | "text";
  /**
   * Metadata for every request (calls, publishes, stream starts), asked each time, e.g. for a
   * fresh token. In a browser, send only headers the server's CORS policy allows. Throw a
   * GmqError to fail the request with its code; anything else fails it as `unauthenticated`.
   */
  metadata?: () => Record<string, string> | Promise<Record<string, string>>;
  /** `fetch` credentials (cookies), e.g. `include`. */
  credentials?: RequestCredentials;
  /** Another nice-grpc-web transport instead of `mode`'s (e.g. `NodeHttpTransport()`). */
  transport?: Channel["transport"];
}

export function resolveOptions(options: GrpcWebOptions): GrpcWebOptions & { url: string } {
  const { url, services, mode, metadata } = options ?? {};
  if (!/^https?:\/\/[^/]/.test(url)) throw GmqError.invalid("url", `must be an http(s) URL, got "${url}"`);
  if (!Array.isArray(services) || !services.length)
    throw GmqError.invalid("services", "must list definitions");
  if (mode && mode !== "binary" && mode !== "text")
    throw GmqError.invalid("mode", 'must be "binary" or "text"');
  if (metadata && typeof metadata !== "function") throw GmqError.invalid("metadata", "must be a function");
  return { ...options, url: url.replace(/\/+$/, "") };
}
