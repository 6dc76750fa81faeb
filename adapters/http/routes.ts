/**
 * Routes: how a method or topic names an HTTP request. `[VERB ]path`, the verb one of GET, POST
 * (default), PUT, PATCH, DELETE. A path starting with `/` is taken from the base URL as it is
 * (`call("user", "/user/login")` → `/user/login`); otherwise a call's path is under its service
 * (`call("gapi", "comments")` → `/gapi/comments`) and a topic's under the base URL
 * (`publish("gapi/comment")` → `/gapi/comment`). A GET sends the args as the query string.
 */
import { GmqError } from "gmq";

const ROUTE = /^(?:(GET|POST|PUT|PATCH|DELETE) )?([\w.~!$&'()*+,;=:@%/-]+)$/;

export const routeProblem = (route: string): string | undefined =>
  ROUTE.test(route)
    ? undefined
    : `must be "[GET|POST|PUT|PATCH|DELETE ]<path>" with URL path characters, got "${route}"`;

export const serviceProblem = (service: string): string | undefined =>
  /^[\w.~@-]+$/.test(service) ? undefined : `must be one URL path segment, got "${service}"`;

export interface Route {
  readonly verb: string;
  /** From the base URL, starting with `/`. */
  readonly path: string;
}

export function parseRoute(route: string, under: string): Route {
  const [, verb = "POST", path = ""] = ROUTE.exec(route) ?? [];
  return { verb, path: path.startsWith("/") ? path : `${under}/${path}` };
}

const fromUtf8 = new TextDecoder();

/** JSON args as `a=1&b=x&list=1&list=2` (nested values as JSON). */
export function formEncode(payload: Uint8Array, field = "args"): string {
  let args: unknown = null;
  try {
    if (payload.length) args = JSON.parse(fromUtf8.decode(payload));
  } catch {
    throw GmqError.invalid(field, "a query or form needs JSON args (the JSON codec)");
  }
  if (args === null) return "";
  if (typeof args !== "object" || Array.isArray(args)) {
    throw GmqError.invalid(field, "must be an object of parameters for a query or form");
  }
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(args as object)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item != null) params.append(key, typeof item === "object" ? JSON.stringify(item) : String(item));
    }
  }
  return params.toString();
}
