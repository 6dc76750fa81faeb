/**
 * gmq/grpc-web — gRPC-web from a browser or Node (nice-grpc-web), request-only.
 *
 *   const client = createClient({
 *     transport: grpcWeb({ url: "http://localhost:8080", services: [CommentServiceDefinition, TickerDefinition] }),
 *     store: indexedDbStore({ name: "comments" }),
 *   });
 *   // A unary call, JSON in and out (proto3 JSON mapping through the definition's fromJSON/toJSON):
 *   const page = await client.call("commentModule.CommentService", "getComments", { type: "resource", targetId: 7 });
 *   // The same, typed (protobuf bytes on the way, no JSON):
 *   const typed = await rpc(client, CommentServiceDefinition).getComments({ type: "resource", targetId: 7 });
 *   // Fire-and-forget through the outbox, sent when the backend is reachable (OK = accepted):
 *   await client.publish("commentModule.CommentService/putComment", { type: "resource", targetId: 7, content: "hi" });
 *   // A server stream as a subscription, restarted with backoff when it ends:
 *   client.subscribe("gmqtest.Ticker/ticks", (m) => …, { args: { intervalMs: 1000 } });
 *
 * Names: a service is a registered definition's full name (`package.Service`), a method one of
 * its methods; publish topics and subscription patterns are `package.Service/method` of a unary
 * or a server-streaming method. Anything else fails at once with `invalid_argument`.
 *
 * Payloads: calls take the client's JSON codec (converted with the definition) or raw protobuf
 * bytes (`bytesCodec`, or a Uint8Array as args); publishes, stream arguments and stream messages
 * are JSON.
 *
 * Errors: gRPC statuses map onto gmq codes (`GRPC_STATUS_CODES`), the status name in `reason`,
 * the decoded `grpc-message` as the message and `grpc-status-details-bin` in `details`; a
 * server that cannot be reached is `disconnected` (reason UNREACHABLE).
 */
export type { GrpcWebOptions } from "./options.js";
export { rpc, type TypedClient } from "./rpc.js";
export type { GrpcMethodDefinition, GrpcServiceDefinition, MessageType } from "./services.js";
export {
  decodeStatusDetails,
  GRPC_STATUS_CODES,
  GRPC_WEB_REASONS,
  type GrpcStatusCodes,
  type GrpcStatusDetails,
  type GrpcStatusName,
} from "./status.js";
export { GrpcWebTextTransport, type TextTransportOptions } from "./text-transport.js";
export { grpcWeb } from "./transport.js";
