/**
 * gmq/http — HTTP JSON APIs from a browser or Node, over `fetch`, request-only.
 *
 *   const client = createClient({
 *     transport: http({ url: "http://localhost:8080", token: ({ refresh }) => auth.jwt(refresh) }),
 *     store: indexedDbStore({ name: "app" }),
 *   });
 *   await client.call("gapi", "comments", { type: "resource", target_id: 7 }); // POST /gapi/comments → data
 *   await client.call("gapi", "GET getUser");                                   // GET /gapi/getUser
 *   await client.publish("gapi/comment", { … });                                // POST through the outbox
 *
 * Routes: a method or topic is `[VERB ]path` (GET, POST (default), PUT, PATCH, DELETE); a GET or
 * DELETE sends the args as the query string, the others as the body (JSON; a form with the call
 * header `content-type: application/x-www-form-urlencoded`). A path starting with `/` is taken
 * as it is from the base URL, otherwise a call's path is `/<service>/<method>`.
 *
 * Dialects:
 * - `gw123` (default): success only for HTTP 200 with `code === 0` (the result is `data`); code
 *   401 → `unauthenticated`; other codes → `remote`, reason `CODE_<n>`, `{code,msg,data}` in
 *   `details`; a 500 `{msg}` → `remote`, reason `HTTP_500` (echo's own errors by the status they
 *   carry: an unknown route is `no_responder`, HTTP_404).
 * - `mqant` (mqant's HTTP gateway): `call("user", "/user/login", args)`; a 2xx body is the result;
 *   an error's code comes from the HTTP status (`HTTP_STATUS_CODES`) with `{id,code,detail,status}`
 *   in `details`, except the gateway's `none available` / `Remote function(…) not found`
 *   (`no_responder`) and `deadline exceeded` (`timeout`).
 *
 * A request that gets no answer (the fetch failed, the connection dropped) is `disconnected`.
 * The token provider is asked for every request; a refused token is refreshed once and the
 * request sent again.
 */
export { HTTP_STATUS_CODES } from "./errors.js";
export type { HttpOptions, TokenRequest } from "./options.js";
export { envelopeReason, HTTP_REASONS, type HttpReason, httpReason } from "./reasons.js";
export { http } from "./transport.js";
