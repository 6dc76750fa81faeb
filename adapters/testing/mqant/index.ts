/**
 * In-process mqant gate emulator for tests and examples (Node only), reproducing the gate's
 * MQTT subset, router, envelope and quirks for both the `v1.2.0` and `master` profiles.
 *
 * @example
 * ```ts
 * const gate = await startMqantGate({
 *   timeScale: 0.05, // every deadline/timeout ×0.05
 *   demo: true, // Login, Chat, HelloWorld
 *   modules: [{
 *     type: "Echo",
 *     handlers: {
 *       HD_Say: mapHandler(async (session, args) => {
 *         await session.send("Echo/OnHeard", JSON.stringify(args)); // arrives before the reply
 *         return { heard: args };
 *       }),
 *       HD_Raw: bytesHandler((_s, bytes) => rawReply(bytes)), // no envelope
 *     },
 *   }],
 * });
 * // mqtt://127.0.0.1:<port> and ws://127.0.0.1:<port>/mqtt; publish to "Echo/HD_Say/1".
 * await gate.close();
 * ```
 */

export { WORK_QUEUE_FULL } from "./connection.js";
export {
  chatModule,
  demoModules,
  helloWorldModule,
  loginModule,
} from "./demo-modules.js";
export type { MqantGate, MqantGateOptions } from "./gate.js";
export { startMqantGate } from "./gate.js";
export { GoJsonError, GoStruct, goJson, goString, goStruct } from "./go-json.js";
export {
  type ApiPair,
  type ApiRequest,
  ApiResponse,
  apiError,
  apiResponse,
  goStatusText,
  type MqantApiError,
  parseApiError,
} from "./http-api.js";
export { httpDemoModule } from "./http-demo-module.js";
export {
  type MqantHttpGateway,
  type MqantHttpGatewayOptions,
  startMqantHttpGateway,
} from "./http-gateway.js";
export {
  type ApiHandler,
  apiHandler,
  type BytesHandler,
  bytesHandler,
  HandlerError,
  type MapArgs,
  type MapHandler,
  type MqantHandler,
  type MqantModule,
  mapHandler,
  RawReply,
  Reply,
  rawReply,
  reply,
} from "./module.js";
export { idleDeadlineSeconds, type MqantProfile, rpcTimeoutMs, subprotocolEcho } from "./profile.js";
export { DEADLINE_EXCEEDED, JSON_ERROR, TOPIC_ERROR } from "./router.js";
export { GateSession, type Network, NO_SESSION, SessionError } from "./session.js";
