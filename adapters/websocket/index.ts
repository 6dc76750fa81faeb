/**
 * gmq/websocket — the gmq hub protocol (`gmq.v1.json`, `docs/websocket-protocol.md`) from a
 * browser or Node, over `isomorphic-ws`.
 *
 *   const client = createClient({
 *     transport: websocket({ url: ["wss://a.example/gmq", "wss://b.example/gmq"], token: () => getJwt() }),
 *     store: indexedDbStore({ name: "app" }),           // positions and the outbox survive a reload
 *   });
 *   client.subscribe("chat/room1", (m) => …);           // resumes after the last message handled
 *   client.subscribe("jobs/+", (m) => m.ack(), { queue: "workers", ack: "manual" });
 *   await client.call("Chat", "history", {});           // native call frames
 *   client.handle("Chat", "history", (args) => …);      // native handle / request / response
 *
 * - One subscription per `subscribe` frame, each delivering to its own stream. A subscription to
 *   one topic without a queue resumes from its stored position (`recovered: true`), or says it
 *   could not (`recovered: false` on the subscription's state change).
 * - Outbox messages carry their producer's `(clientId, seq)`: the hub applies each once, however
 *   often a cut connection makes the client resend it.
 * - Heartbeats driven by the hub, checked against the wall clock before every send; in-band
 *   token refresh at 80 % of the token's life; close codes acted on by range (`closeError`).
 * - The hub's frames of one turn come batched in one WebSocket message; acks of one tick leave
 *   in one frame.
 * - The legacy gw123/GMQ `/message` socket is `gmq/websocket-gw123`.
 */
export { closeError, closeReason, wireError } from "./errors.js";
export type { WebSocketOptions } from "./options.js";
/** The protocol's frame types, close codes and `closeAction`, shared with `gmq/hub`. */
export * from "./protocol.js";
export { WEBSOCKET_REASONS, type WebSocketReason } from "./reasons.js";
export { RESPONSE_TOPIC } from "./transport.js";

import type { Transport } from "gmq";
import { corkTurn } from "./cork.js";
import type { WebSocketOptions } from "./options.js";
import { createWebsocket } from "./transport.js";

/** A transport speaking the gmq hub protocol (`gmq.v1.json`) over a WebSocket. */
export function websocket(options: WebSocketOptions): Transport {
  return createWebsocket(options, corkTurn);
}
