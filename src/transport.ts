/**
 * The transport contract: everything an adapter implements, and nothing more. Built-in adapters
 * import only this file (through the public `gmq` entry), so a third-party adapter can do
 * everything a built-in one can.
 *
 * An adapter owns its wire protocol only. The core owns reconnecting and retrying (with backoff),
 * restoring subscriptions and restarting streams, the outbox and its flush order, RPC correlation
 * and timeouts, dedup, flow control, codecs and events. So an adapter must NOT retry on its own:
 * it reports what happened and the core decides.
 *
 * Backends come in shapes, and `capabilities` names the shape instead of assuming MQTT:
 * - `connection: "link"`: `connect` opens a connection the core keeps; the adapter reports its
 *   loss once through `TransportSink.onDisconnect` (MQTT, WebSocket, TCP).
 *   `connection: "request"`: there is no `connect`; every operation is a request of its own
 *   (HTTP, gRPC-web). The client is usable at once, learns reachability from request outcomes
 *   (a `disconnected` rejection is a network failure; any answer from the backend, even an
 *   error, means it is reachable), and retries with the same backoff as reconnects.
 * - `inbound`: how subscribers get messages. `"routed"`: `subscribe` asks the backend, which
 *   sends matching messages on the link (`TransportSink.onMessage`); the core matches them to
 *   local subscriptions by topic. `"stream"`: `subscribe` opens a stream of its own (a
 *   server-streaming RPC, a queue's pop loop) that delivers to its `StreamSink`; it may carry
 *   arguments and is bounded by flow control. `"push"`: the backend pushes without being asked
 *   (there is no `subscribe`); the core matches locally. `"none"`: nothing ever arrives, and
 *   `client.subscribe` fails with `unsupported`.
 *
 * Only web-standard types (and GmqError) appear here (Uint8Array, AbortSignal), so adapters run in browsers and
 * Node alike.
 */

import type { GmqError } from "./errors.js";

/** How the transport reaches its backend (see the file comment). */
export type ConnectionModel = "link" | "request";

/** How inbound messages reach subscribers (see the file comment). */
export type InboundModel = "routed" | "stream" | "push" | "none";

/** What the backend can do natively. The core emulates what it can and refuses the rest early
 *  with `unsupported`. Be honest: a flag that overstates loses messages silently. */
export interface TransportCapabilities {
  readonly connection: ConnectionModel;
  readonly inbound: InboundModel;
  /** The backend matches MQTT-style `+`/`#` filters itself (routed). Push transports are matched
   *  locally, with wildcards, whatever this says. */
  readonly wildcards: boolean;
  /** `call` exists: native request/reply. Without it the core emulates it over pub/sub, which
   *  needs `inbound: "routed"` and `headers`. */
  readonly requestReply: boolean;
  /** Inbound messages can be acknowledged late (manual ack); unacked ones are redelivered. */
  readonly ack: boolean;
  /** `publish` honours `delayMs`. */
  readonly delay: boolean;
  /** Payloads are arbitrary bytes (otherwise only UTF-8 text survives). */
  readonly binary: boolean;
  /** Load-balanced (queue / shared) subscriptions: `SubscribeRequest.queue`. */
  readonly queues: boolean;
  /** `id`, `headers`, `replyTo` and `correlationId` travel with a message. Request/reply
   *  emulation and receiver-side dedup need this. */
  readonly headers: boolean;
  /** The backend keeps the last message per topic for new subscribers (`retain`). */
  readonly retain: boolean;
  /** `publish` honours `routeKey`. Default false. */
  readonly routeKeys?: boolean;
  /** `client.handle` is served natively: a subscription whose request has `serve` receives the
   *  calls for that service and method, each answered by a publish to its `replyTo` (with its
   *  `correlationId`). Without it, only routed transports with `headers` serve calls, over pub/sub. */
  readonly serve?: boolean;
  /** `publishBatch` exists and takes up to this many messages at once. Default 0 (none). */
  readonly maxBatch?: number;
}

/**
 * How the backend spells names. Each rule returns what is wrong with a name, or undefined when it
 * is fine; the core turns a problem into `invalid_argument` naming the field. A missing rule
 * means the default: MQTT topic grammar for topics and patterns, and for service and method
 * names one topic level (no `/`, `+` or `#`), as request/reply over pub/sub needs.
 */
export interface TransportNaming {
  topic?(topic: string): string | undefined;
  pattern?(pattern: string): string | undefined;
  service?(service: string): string | undefined;
  method?(method: string): string | undefined;
  /** `$share/<group>/<filter>` names a queue group (MQTT 5 shared subscriptions). Default false. */
  readonly sharedPrefix?: boolean;
}

export type QoS = 0 | 1 | 2;

/** A message as the core hands it to `Transport.publish`. */
export interface OutboundMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  /** Stable gmq message id, the same on every retry, reload and restart. */
  readonly id: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly qos: QoS;
  /** Only when `capabilities.retain`. */
  readonly retain?: boolean;
  /** Where a reply should go (request/reply over pub/sub). */
  readonly replyTo?: string;
  readonly correlationId?: string;
  /** Epoch ms after which the backend may drop the message (MQTT 5 message expiry…). */
  readonly expiresAt?: number;
  /** Only when `capabilities.delay`. */
  readonly delayMs?: number;
  /** A routing key, for backends that route by key (the gmq node's route key, an AMQP-style
   *  routing key). Only when `capabilities.routeKeys`. */
  readonly routeKey?: string;
}

/** A message as an adapter hands it to `TransportSink.onMessage` or `StreamSink.message`. */
export interface InboundMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly id?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly qos?: QoS;
  readonly retain?: boolean;
  /** The backend says it may have delivered this before (MQTT DUP, a broker redelivery). */
  readonly redelivered?: boolean;
  /** How often the backend delivered it before (e.g. the gmq node's `retry_count`). */
  readonly deliveryCount?: number;
  readonly replyTo?: string;
  readonly correlationId?: string;
  /** Where the message sits in its stream (opaque, e.g. an epoch and offset). The core keeps the
   *  position of the last message handled, per subscription and in the outbox's store, and asks
   *  to resume after it (`SubscribeRequest.position`) after a reconnect, reload or restart. */
  readonly position?: string;
  /**
   * Present when the message waits for an acknowledgement (`capabilities.ack` and a subscription
   * with `manualAck`). The core calls exactly one of them exactly once. Absent means the adapter
   * already acknowledged it.
   */
  ack?(): Promise<void> | void;
  nack?(options: { requeue: boolean }): Promise<void> | void;
}

/** How a link adapter reports to the core. */
export interface TransportSink {
  onMessage(message: InboundMessage): void;
  /**
   * The connection is gone (after `connect` resolved). Call it once per connection. The core will
   * reconnect with backoff by calling `connect` again, or stop if the error is permanent (e.g. the
   * server revoked the credentials) and `shouldRetry` does not say otherwise.
   */
  onDisconnect(error?: unknown, options?: DisconnectOptions): void;
  /** Something went wrong that did not (yet) close the connection: a malformed frame, a message
   *  the adapter could not decode. Must never throw. */
  onError(error: unknown): void;
}

/** What a link adapter may say about a lost connection. */
export interface DisconnectOptions {
  /** Reconnect at once rather than after the backoff (the server is shutting down and another is
   *  ready, the token expired and a fresh one is at hand, the heartbeat was lost). Only the first
   *  attempt is immediate; if it fails, the usual backoff follows. */
  readonly reconnectNow?: boolean;
}

export interface SubscribeRequest {
  /** The pattern as the user wrote it, e.g. `chat/+` (without any `$share/` prefix). */
  readonly pattern: string;
  /** Queue / shared-subscription group, only when `capabilities.queues`. */
  readonly queue?: string;
  readonly qos: QoS;
  /** Hold acknowledgements until the core calls `ack`/`nack` on the message. */
  readonly manualAck: boolean;
  /** A stream's arguments (a server-streaming RPC's request), encoded by the subscription's codec. */
  readonly args?: Uint8Array;
  /** Resume after this position: the last message the app handled on this subscription. */
  readonly position?: string;
  /** `client.handle` on a transport that serves natively (`capabilities.serve`): the calls of this
   *  service and method, rather than the messages of `pattern`. */
  readonly serve?: { readonly service: string; readonly method: string };
}

/** What a subscribe may say about resuming from `SubscribeRequest.position`. */
export interface SubscribeResult {
  /** true: every message after the position will come; false: some are lost (a new epoch, or
   *  outside the kept history), and the app is told so it can resync. */
  readonly recovered?: boolean;
  /** The stream's position now, when it could not resume or nothing was asked (a first
   *  subscribe): the next resume starts from it. */
  readonly position?: string;
}

/**
 * Flow control for one subscription: how many more messages the app can take. A message holds
 * one unit of credit from delivery until it is settled (handled and acked, or nacked). A pull
 * adapter fetches only while there is credit, so it never takes messages nobody can handle.
 */
export interface FlowControl {
  /** Messages the subscription can take now (0: wait). */
  readonly credit: number;
  /** Resolves once credit is above 0 (at once if it is); rejects when `signal` aborts first. */
  ready(signal: AbortSignal): Promise<void>;
}

/** Where a stream (`inbound: "stream"`) delivers; a routed transport may use `end` too. */
export interface StreamSink {
  message(message: InboundMessage): void;
  /**
   * The stream ended (the server closed it) or failed. The core restarts it with backoff, like a
   * lost connection, unless the error is permanent (e.g. `forbidden`). Not needed after the
   * signal aborted: the core ended it then.
   */
  end(error?: unknown): void;
}

export interface TransportSubscribeOptions {
  /** Aborts when the subscription ends (unsubscribed, client closed) or, on a link transport,
   *  when the connection is lost. */
  readonly signal: AbortSignal;
  readonly sink: StreamSink;
  readonly flow: FlowControl;
}

export interface CallRequest {
  readonly service: string;
  readonly method: string;
  readonly payload: Uint8Array;
  /** The codec that encoded `payload` (`json`, `text`, `bytes`…; `bytes` for raw bytes), so an
   *  adapter can label or convert it. */
  readonly codec: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** The core enforces the deadline too; this lets an adapter tell its server. */
  readonly timeoutMs?: number;
  readonly signal: AbortSignal;
}

export interface CallResponse {
  readonly payload: Uint8Array;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface OperationOptions {
  /** Aborted when the caller gives up; the adapter should stop waiting and clean up. */
  readonly signal: AbortSignal;
}

export interface Transport {
  /** Short name for logs and errors, e.g. `mqtt`, `mqant`. */
  readonly name: string;
  readonly capabilities: TransportCapabilities;
  /** How names look on this backend; absent: the MQTT defaults. */
  readonly naming?: TransportNaming;

  /**
   * Link transports only: open one connection. Resolve once it can carry traffic; reject (with a
   * GmqError) when it cannot. Called again by the core after `sink.onDisconnect`. An adapter with
   * several endpoints may rotate through them here.
   */
  connect?(sink: TransportSink, options: OperationOptions): Promise<void>;

  /**
   * Optional: checks a message against the backend's own rules before it is queued (a delay the
   * backend cannot take, an invalid route key, a body over its limit), throwing GmqError
   * `invalid_argument` naming the field (or `payload_too_large`). Synchronous: `publish` fails
   * at once, rather than a queued message being dropped later.
   */
  checkPublish?(message: OutboundMessage): void;

  /**
   * Optional: asked after a failure retrying cannot fix by itself (`isPermanent`: refused
   * credentials, an untrusted certificate…). Resolve true when a new attempt may now succeed,
   * e.g. the app's credentials provider has new credentials: the core retries with backoff.
   * Otherwise it stops until the app calls `connect()` again.
   */
  shouldRetry?(error: GmqError): Promise<boolean> | boolean;

  /** Close the current connection, or (request transports) cancel everything under way and let
   *  go of resources. Must not call `sink.onDisconnect`. */
  disconnect(): Promise<void>;

  /**
   * Send one message. Resolve when the backend has accepted it (e.g. PUBACK for QoS 1, written to
   * the socket for QoS 0): the core drops the outbox record only then. Reject with a GmqError:
   * `disconnected` when the message may not have arrived because the link or network failed (the
   * core retries it), `no_responder` when the backend knows nobody listens to a request, another
   * code when the backend refused it (the core gives up on it). A link transport may be called
   * many times without awaiting, in order; keep that order on the wire. A request transport gets
   * one at a time.
   */
  publish(message: OutboundMessage, options: OperationOptions): Promise<void>;

  /**
   * Optional (`capabilities.maxBatch` > 0): send a run of queued messages, oldest first, in one go
   * (e.g. the gmq node's `mpub`). Resolve with one entry per message, in order: `undefined` when
   * the backend accepted it, or the error it failed with (a `disconnected` one is retried, others
   * are given up). Reject only when nothing can be said about any of them.
   */
  publishBatch?(
    messages: readonly OutboundMessage[],
    options: OperationOptions,
  ): Promise<readonly (unknown | undefined)[]>;

  /**
   * Required for `inbound: "routed"` and `"stream"`. Routed: resolve when the backend confirmed
   * (e.g. SUBACK); messages then come on the link. Stream: open the stream, resolve once it is
   * established, deliver to `options.sink`, fetch only while `options.flow` has credit, and stop
   * quietly when `options.signal` aborts.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: most adapters have nothing to say, and resolve with nothing
  subscribe?(request: SubscribeRequest, options: TransportSubscribeOptions): Promise<void | SubscribeResult>;
  /** Routed transports: tell the backend to stop (e.g. UNSUBSCRIBE). Streams end by the signal. */
  unsubscribe?(request: SubscribeRequest, options: OperationOptions): Promise<void>;

  /** Required when `capabilities.requestReply`. Reject remote failures with GmqError `remote`. */
  call?(request: CallRequest): Promise<CallResponse>;
}

/** A function that makes a fresh transport; what adapter packages export. */
export type TransportFactory<Options> = (options: Options) => Transport;
