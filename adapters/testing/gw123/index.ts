/**
 * In-process stand-ins for the gw123/GMQ servers (Node only), for gmq's adapters and tests:
 *
 * - startCommentServer(): commentModule.CommentService over real gRPC-web (connect-node behind an
 *   Envoy-like front: text and binary modes, trailers-only errors, Envoy's CORS), plus the
 *   test-only gmqtest.Ticker stream;
 * - startGw123Http(): the web module's `/gapi` JSON API (envelopes, JWT, SMS login, comments);
 * - startGw123MessageSocket(): the legacy `/message` WebSocket.
 *
 * @example
 * ```ts
 * const comments = new CommentTable();                       // one table, both servers
 * const grpc = await startCommentServer({ comments });       // grpc.url: gRPC-web base URL
 * const http = await startGw123Http({ comments, users: [{ mobile: "13800000000", password: "pw" }] });
 * const token = http.mintToken({ userId: 1 });               // or log in through /gapi/login
 * ```
 */

export type { CommentServer, CommentServerOptions } from "./comment-server.js";
export { startCommentServer } from "./comment-server.js";
export type { CommentPaging } from "./comment-service.js";
export {
  type CommentRow,
  CommentTable,
  type CommentTableOptions,
  DatabaseError,
  type NewComment,
} from "./comment-table.js";
export { ENVOY_CORS } from "./envoy-cors.js";
export type { GrpcWebCall, GrpcWebMode } from "./grpc-web-envoy.js";
export type { NewUser, SentSms, User, UserTable } from "./http/accounts.js";
export { type StandardClaims, signJwt, verifyJwt } from "./http/jwt.js";
export type { Gw123Http, Gw123HttpOptions, MintTokenOptions } from "./http/server.js";
export { startGw123Http } from "./http/server.js";
export type { Gw123MessageSocket, Gw123MessageSocketOptions, PublishedEvent } from "./message-socket.js";
export { startGw123MessageSocket } from "./message-socket.js";
export { RelayState } from "./relay-state.js";
