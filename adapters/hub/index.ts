/**
 * `gmq/hub` (Node only): the gmq WebSocket hub, serving the `gmq.v1.json` protocol described in
 * `docs/websocket-protocol.md` to browsers and Node services.
 *
 *   const hub = await createHub({ port: 8080 });                       // embedded, in memory
 *   const hub = await createHub({ server, engine: natsEngine({ servers: "nats://…" }) }); // scaled out
 *
 * - Topic routing with `+`/`#`, queue groups, calls routed to clients that `handle` the method.
 * - Every topic stream keeps a bounded history with an epoch and offsets: a resubscribe with the
 *   last position gets what it missed (`recovered: true`) or is told it cannot (`recovered: false`).
 * - Exactly-once publishing per `(clientId, seq)`, heartbeats, auth hooks with in-band refresh,
 *   limits, slow-consumer protection and a clean shutdown, each with its documented close code.
 * - The engine holds what hubs share: `memoryEngine()` in one process, `natsEngine()` on NATS
 *   and JetStream across processes.
 */

export type {
  CallRequest,
  CallResult,
  EngineHost,
  EngineMessage,
  EngineSession,
  HistoryLimits,
  HubEngine,
  Interest,
  PublishIdentity,
  PublishOutcome,
  Recovery,
  StoredMessage,
} from "./engine.js";
export { createHub, type Hub } from "./hub.js";
export { type MemoryEngine, type MemoryEngineOptions, memoryEngine } from "./memory-engine.js";
export { type NatsEngineOptions, natsEngine } from "./nats-engine.js";
export type {
  Authenticate,
  AuthenticateRequest,
  Authorize,
  AuthorizeRequest,
  HeartbeatOptions,
  HubLimits,
  HubOptions,
  Identity,
} from "./options.js";
export * from "./protocol.js";
