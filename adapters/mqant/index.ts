/**
 * gmq/mqant — talk to an mqant gate (liangdas/mqant) from a browser or Node.
 *
 *   const client = createClient({
 *     transport: mqant({ url: "ws://host:3653/mqtt" }),
 *     // A reconnect is a new, logged-out gate session: log in again before anything flushes.
 *     onConnect: (session) => session.call("Login", "HD_Login", { userName, passWord }),
 *   });
 *   await client.call("Chat", "HD_JoinChat", { roomName });      // Module/HD_x/<msgid>
 *   client.subscribe("Chat/OnChat", (m) => …);                  // server pushes, matched locally
 *   await client.publish("Chat/HD_Say", { … });                 // a notify (no reply), via the outbox
 *
 * - `call("Chat@<16 hex>", …)` targets one node of a module type.
 * - A handler returning Go `[]byte` arrives as a base64 string; pass the call header
 *   `{ "mqant-result": "bytes" }` (with `bytesCodec`) to get the bytes back.
 * - Gate errors map onto gmq codes, with the mqant name in `reason`: MODULE_NOT_FOUND and
 *   HANDLER_NOT_FOUND → `no_responder`, SERVER_TIMEOUT → `timeout`, BUSY → `busy`, BAD_JSON /
 *   BAD_TOPIC / BAD_HANDLER → `invalid_argument`, SERVER_PANIC and APPLICATION → `remote`.
 */
export type { MqantOptions } from "./options.js";
export { MQANT_REASONS, type MqantReason } from "./reasons.js";
export { envelopeDecoder, type GateReply, gateError, type ReplyDecoder, rawDecoder } from "./reply.js";
export { mqant } from "./transport.js";
