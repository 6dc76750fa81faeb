/**
 * The `reason` of every GmqError this adapter makes, so an app can compare against a constant
 * instead of a string literal. `code` stays gmq's closed set; `reason` is the hub's cause: a
 * close code's name (protocol §13), an `error` frame's own reason (§12), or one of the client's.
 */
export const WEBSOCKET_REASONS = {
  // Close codes (protocol §13), by name.
  /** 1000: the hub closed on purpose (`disconnected`, reconnects with backoff). */
  normal: "normal",
  /** 1003: the hub got a binary frame, a client bug (`unsupported`, stops). */
  unsupported_data: "unsupported_data",
  /** 1009: a frame over `maxFrameBytes` (`disconnected`, reconnects with backoff). */
  message_too_big: "message_too_big",
  /** 1006: no close frame, the network failed (`disconnected`, reconnects with backoff). */
  abnormal: "abnormal",
  /** 4000: a malformed frame, a client bug (`unsupported`, stops). */
  protocol_error: "protocol_error",
  /** 4001: refused credentials (`unauthenticated`, stops until the token provider has a new token). */
  unauthenticated: "unauthenticated",
  /** 4002: no common subprotocol (`unsupported`, stops). */
  unsupported_protocol: "unsupported_protocol",
  /** 4003: the connection is not allowed (`forbidden`, stops). */
  forbidden: "forbidden",
  /** 4100: the hub is shutting down (`disconnected`, reconnects at once, to the next URL). */
  shutdown: "shutdown",
  /** 4101: the credentials expired (`disconnected`, fetches a new token and reconnects at once). */
  token_expired: "token_expired",
  /** 4200: a heartbeat deadline passed, the hub's or this client's (`disconnected`). */
  heartbeat_timeout: "heartbeat_timeout",
  /** 4201: the hub's queue for this client overflowed (`disconnected`, resubscribes with recover). */
  slow_consumer: "slow_consumer",
  /** 4202: kept sending past the rate limit (`disconnected`). */
  rate_limited: "rate_limited",
  /** 4203: no `connect` / authentication in time (`disconnected`). */
  connect_timeout: "connect_timeout",
  /** 4204: the hub could not complete `connect`, e.g. its engine is down (`disconnected`). */
  internal_error: "internal_error",
  /** A close code this client does not know: acted on by its range. */
  unknown_close: "unknown_close",

  // The client's own.
  /** A frame over the hub's `maxFrameBytes`, refused before sending (`payload_too_large`). */
  frame_too_large: "frame_too_large",
  /** A hub frame that is not a JSON object with a `type` (`protocol`; the connection is dropped). */
  malformed_frame: "malformed_frame",
  /** The hub answered `recover` with a position of another shape than ours (`protocol`). */
  bad_position: "bad_position",
  /** The token provider threw (`unauthenticated`). */
  token_provider: "token_provider",
  /** gw123 dialect: a newer connection with the same `moduleName` evicted this one. */
  evicted: "evicted",
} as const;

export type WebSocketReason = (typeof WEBSOCKET_REASONS)[keyof typeof WEBSOCKET_REASONS];
