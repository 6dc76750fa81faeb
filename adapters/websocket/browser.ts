/**
 * `gmq/websocket` as a browser bundle resolves it (the `browser` export condition): the same
 * transport without what only Node uses (corking the TCP socket under `ws`, see cork.ts).
 */
import type { Transport } from "gmq";
import type { WebSocketOptions } from "./options.js";
import { createWebsocket } from "./transport.js";

export { closeError, closeReason, wireError } from "./errors.js";
export type { WebSocketOptions } from "./options.js";
/** The protocol's frame types, close codes and `closeAction`, shared with `gmq/hub`. */
export * from "./protocol.js";
export { WEBSOCKET_REASONS, type WebSocketReason } from "./reasons.js";
export { RESPONSE_TOPIC } from "./transport.js";

/** A transport speaking the gmq hub protocol (`gmq.v1.json`) over a WebSocket. */
export function websocket(options: WebSocketOptions): Transport {
  return createWebsocket(options);
}
