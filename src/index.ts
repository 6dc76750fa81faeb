export { type BackoffOptions, backoffDelay } from "./backoff.js";
export { Client, type ClientEvents, createClient } from "./client.js";
export { bytesCodec, type Codec, jsonCodec, textCodec } from "./codec.js";
export type { ConnectionState, StateChange } from "./connection.js";
export { createDeadline, type Deadline, type DeadlineOptions, withDeadline } from "./deadline.js";
export {
  ERROR_CODES,
  type ErrorCode,
  GmqError,
  type GmqErrorOptions,
  isErrorCode,
  isPermanent,
} from "./errors.js";
export { createIdGenerator, messageSequence } from "./ids.js";
export { memoryStore } from "./memory-store.js";
export type { Message } from "./message.js";
export {
  type CallOptions,
  type ClientOptions,
  DEFAULTS,
  type HandleContext,
  type HandleOptions,
  type PublishOptions,
  type PublishResult,
  type Session,
  type SubscribeOptions,
} from "./options.js";
export type { DroppedEvent, DropReason, OutboxLimits, OutboxStats } from "./outbox.js";
export {
  checkOutboxIds,
  checkOutboxRecords,
  type OutboxRecord,
  type OutboxStore,
  type SharedOutbox,
} from "./store.js";
export {
  type MessageHandler,
  Subscription,
  type SubscriptionEvents,
  type SubscriptionState,
  type SubscriptionStateChange,
} from "./subscription.js";
export {
  mqttFilterProblem,
  mqttTopicProblem,
  topicMatches,
  validateFilter,
  validateTopic,
} from "./topics.js";
export type {
  CallRequest,
  CallResponse,
  ConnectionModel,
  FlowControl,
  InboundMessage,
  InboundModel,
  OperationOptions,
  OutboundMessage,
  QoS,
  StreamSink,
  SubscribeRequest,
  SubscribeResult,
  Transport,
  TransportCapabilities,
  TransportFactory,
  TransportNaming,
  TransportSink,
  TransportSubscribeOptions,
} from "./transport.js";
