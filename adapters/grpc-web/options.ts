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
  if (typeof options !== "object" || options === null) throw GmqError.invalid("options", "must be an object");
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw GmqError.invalid("url", `not a URL: "${String(options.url)}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw GmqError.invalid("url", `must be http:// or https://, got "${options.url}"`);
  }
  if (!Array.isArray(options.services) || options.services.length === 0) {
    throw GmqError.invalid(
      "services",
      "must list the service definitions to call, e.g. [CommentServiceDefinition]",
    );
  }
  if (options.mode !== undefined && options.mode !== "binary" && options.mode !== "text") {
    throw GmqError.invalid("mode", 'must be "binary" or "text"');
  }
  if (options.metadata !== undefined && typeof options.metadata !== "function") {
    throw GmqError.invalid("metadata", "must be a function returning the metadata");
  }
  return { ...options, url: url.href.replace(/\/+$/, "") };
}
