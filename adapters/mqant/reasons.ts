/**
 * The `reason` of every GmqError this adapter makes, so an app can compare against a constant
 * instead of a string literal. `code` stays gmq's closed set; `reason` is the mqant cause.
 */
export const MQANT_REASONS = {
  /** `Service(type:X) not found`: no module of that type (`no_responder`). */
  MODULE_NOT_FOUND: "MODULE_NOT_FOUND",
  /** `Remote function(X) not found`: the module has no such handler (`no_responder`). */
  HANDLER_NOT_FOUND: "HANDLER_NOT_FOUND",
  /** `deadline exceeded` from the gate's RPC to the module (`timeout`). */
  SERVER_TIMEOUT: "SERVER_TIMEOUT",
  /** `the work queue is full!` (`busy`). */
  BUSY: "BUSY",
  /** The gate refused the args as JSON (`invalid_argument`). */
  BAD_JSON: "BAD_JSON",
  /** The gate refused the topic (`invalid_argument`). */
  BAD_TOPIC: "BAD_TOPIC",
  /** A handler name without `HD_` (`invalid_argument`). */
  BAD_HANDLER: "BAD_HANDLER",
  /** The handler panicked; its stack is in `details.stack` (`remote`). */
  SERVER_PANIC: "SERVER_PANIC",
  /** Any other error text from the handler (`remote`). */
  APPLICATION: "APPLICATION",
  /** A reply the adapter could not decode (`protocol`). */
  DECODE_ERROR: "DECODE_ERROR",
  /** Topic and payload exceed the gate's packet size (`payload_too_large`). */
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  /** The gate closed the connection, or the app disconnected (`disconnected`). */
  DISCONNECTED: "DISCONNECTED",
} as const;

export type MqantReason = (typeof MQANT_REASONS)[keyof typeof MQANT_REASONS];
