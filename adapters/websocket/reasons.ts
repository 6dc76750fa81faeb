/**
 * The `reason` of every GmqError this adapter makes, so an app can compare against a constant
 * instead of a string literal. `code` stays gmq's closed set; `reason` is the hub's cause: a
 * close code's name (protocol §13), an `error` frame's own reason (§12), or one of the client's.
 */
import { CLOSE_NAMES } from "./errors.js";

/**
 * Close codes (protocol §13), by name:
 * - `normal` 1000: the hub closed on purpose (`disconnected`, reconnects with backoff).
 * - `unsupported_data` 1003: the hub got a binary message, a client bug (`unsupported`, stops).
 * - `abnormal` 1006: no close frame, the network failed (`disconnected`, reconnects with backoff).
 * - `message_too_big` 1009: a frame over `maxFrameBytes` (`disconnected`, reconnects with backoff).
 * - `protocol_error` 4000: a malformed frame, a client bug (`unsupported`, stops).
 * - `unauthenticated` 4001: refused credentials (`unauthenticated`, stops until the token
 *   provider has a new token).
 * - `unsupported_protocol` 4002: no common subprotocol (`unsupported`, stops).
 * - `forbidden` 4003: the connection is not allowed (`forbidden`, stops).
 * - `shutdown` 4100: the hub is shutting down (`disconnected`, reconnects at once, to the next URL).
 * - `token_expired` 4101: the credentials expired (`disconnected`, fetches a new token and
 *   reconnects at once).
 * - `heartbeat_timeout` 4200: a heartbeat deadline passed, the hub's or this client's
 *   (`disconnected`).
 * - `slow_consumer` 4201: the hub's queue for this client overflowed (`disconnected`,
 *   resubscribes with recover).
 * - `rate_limited` 4202: kept sending past the rate limit (`disconnected`).
 * - `connect_timeout` 4203: no `connect` / authentication in time (`disconnected`).
 * - `internal_error` 4204: the hub could not complete `connect`, e.g. its engine is down
 *   (`disconnected`).
 * - `unknown_close`: a close code this client does not know, acted on by its range.
 *
 * The client's own:
 * - `frame_too_large`: a frame over the hub's `maxFrameBytes`, refused before sending
 *   (`payload_too_large`).
 * - `malformed_frame`: a hub frame that is not a JSON object with a `type` (`protocol`, the
 *   reason the connection was dropped).
 * - `token_provider`: the token provider threw (`unauthenticated`).
 * - `evicted`: gmq/websocket-gw123, a newer connection with the same `moduleName` evicted this
 *   one (`forbidden`).
 */
export type WebSocketReason =
  | "normal"
  | "unsupported_data"
  | "abnormal"
  | "message_too_big"
  | "protocol_error"
  | "unauthenticated"
  | "unsupported_protocol"
  | "forbidden"
  | "shutdown"
  | "token_expired"
  | "heartbeat_timeout"
  | "slow_consumer"
  | "rate_limited"
  | "connect_timeout"
  | "internal_error"
  | "unknown_close"
  | "frame_too_large"
  | "malformed_frame"
  | "token_provider"
  | "evicted";

/** Every `WebSocketReason`, each as its own value (`WEBSOCKET_REASONS.shutdown === "shutdown"`). */
export const WEBSOCKET_REASONS = /* @__PURE__ */ Object.fromEntries(
  [
    ...Object.values(CLOSE_NAMES),
    "unknown_close",
    "frame_too_large",
    "malformed_frame",
    "token_provider",
    "evicted",
  ].map((name) => [name, name]),
) as { readonly [K in WebSocketReason]: K };
