import { GmqError } from "gmq";

/** What the token provider is asked: the current token, or (`refresh`) a new one. */
export interface TokenRequest {
  /** The server refused `rejected` (expired, revoked): return a new token, or undefined. */
  readonly refresh: boolean;
  readonly rejected?: string;
}

export interface HttpOptions {
  /** The base URL every route is under, e.g. `http://localhost:8080`. */
  url: string;
  /**
   * `gw123` (default): the gw123/GMQ web module's `{code,msg,data}` envelopes (spec §3).
   * `mqant`: mqant's HTTP gateway (`httpgateway`): the body is the result, errors are
   * `{id,code,detail,status}` with an HTTP status.
   */
  dialect?: "gw123" | "mqant";
  /**
   * A JWT for `Authorization: <scheme> <token>`, asked for every request; undefined sends none.
   * When the server refuses it (gw123 code 401, HTTP 401), it is asked once with `refresh: true`
   * and the request is sent again with the new token. Throw a GmqError to fail the request with
   * its code; anything else fails it as `unauthenticated`.
   */
  token?: (request: TokenRequest) => string | undefined | Promise<string | undefined>;
  /** The word before the token. Default `Bearer`. */
  scheme?: string;
  /** `fetch` credentials (cookies), e.g. `include`. */
  credentials?: RequestCredentials;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
}

export function resolveOptions(options: HttpOptions): HttpOptions & { url: string } {
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
  if (options.dialect !== undefined && options.dialect !== "gw123" && options.dialect !== "mqant") {
    throw GmqError.invalid("dialect", 'must be "gw123" or "mqant"');
  }
  for (const field of ["token", "fetch"] as const) {
    if (options[field] !== undefined && typeof options[field] !== "function") {
      throw GmqError.invalid(field, "must be a function");
    }
  }
  return { ...options, url: url.href.replace(/\/+$/, "") };
}
