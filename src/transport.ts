/**
 * The transport contract: everything an adapter implements, and nothing more. Built-in adapters
 * import only this file (through the public `gmq` entry), so a third-party adapter can do
 * everything a built-in one can.
 *
 * An adapter owns its wire protocol only. The core owns reconnecting (with backoff), restoring
 * subscriptions, the outbox, RPC correlation and timeouts, dedup, codecs and events. So an
 * adapter must NOT reconnect on its own: it reports a lost connection through
 * `TransportSink.onDisconnect` and waits for the core to call `connect` again.
 *
 * Only web-standard types appear here (Uint8Array, AbortSignal), so adapters run in browsers and
 * Node alike.
 */

/** What the backend can do natively. The core emulates what it can and refuses the rest early. */
export interface TransportCapabilities {
  /** The backend matches MQTT-style `+`/`#` filters itself. Without it the core matches locally. */
  readonly wildcards: boolean;
  /** `subscribe` exists: the backend routes by subscription. Without it every inbound message is
   *  a push the core matches locally (e.g. the mqant gate). */
  readonly subscribe: boolean;
  /** `call` exists: native request/reply. Without it the core emulates it over pub/sub. */
  readonly requestReply: boolean;
  /** Inbound messages can be acknowledged late (manual ack); unacked ones are redelivered. */
  readonly ack: boolean;
  /** `publish` honours `delayMs`. */
  readonly delay: boolean;
  /** Payloads are arbitrary bytes (otherwise only UTF-8 text survives). */
  readonly binary: boolean;
  /** Load-balanced (queue / shared) subscriptions. */
  readonly queues: boolean;
  /** `id`, `headers`, `replyTo` and `correlationId` travel with a message. Request/reply
   *  emulation and receiver-side dedup need this. */
  readonly headers: boolean;
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
  readonly retain?: boolean;
  /** Where a reply should go (request/reply over pub/sub). */
  readonly replyTo?: string;
  readonly correlationId?: string;
  /** Epoch ms after which the backend may drop the message (MQTT 5 message expiry…). */
  readonly expiresAt?: number;
  /** Only when `capabilities.delay`. */
  readonly delayMs?: number;
}

/** A message as an adapter hands it to `TransportSink.onMessage`. */
export interface InboundMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly id?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly qos?: QoS;
  readonly retain?: boolean;
  /** The backend says it may have delivered this before (MQTT DUP, a broker redelivery). */
  readonly redelivered?: boolean;
  readonly replyTo?: string;
  readonly correlationId?: string;
  /**
   * Present when the message waits for an acknowledgement (`capabilities.ack` and a manual-ack
   * subscription). The core calls exactly one of them exactly once. Absent means the adapter
   * already acknowledged it.
   */
  ack?(): Promise<void> | void;
  nack?(options: { requeue: boolean }): Promise<void> | void;
}

/** How an adapter reports to the core. */
export interface TransportSink {
  onMessage(message: InboundMessage): void;
  /**
   * The connection is gone (after `connect` resolved). Call it once per connection. The core will
   * reconnect with backoff by calling `connect` again.
   */
  onDisconnect(error?: unknown): void;
  /** Something went wrong that did not (yet) close the connection: a malformed frame, a message
   *  the adapter could not decode. Must never throw. */
  onError(error: unknown): void;
}

export interface SubscribeRequest {
  /** The filter as the user wrote it, e.g. `chat/+` (without any `$share/` prefix). */
  readonly pattern: string;
  /** Queue / shared-subscription group, only when `capabilities.queues`. */
  readonly queue?: string;
  readonly qos: QoS;
  /** Hold acknowledgements until the core calls `ack`/`nack` on the message. */
  readonly manualAck: boolean;
}

export interface CallRequest {
  readonly service: string;
  readonly method: string;
  readonly payload: Uint8Array;
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

  /**
   * Open one connection. Resolve once it can carry traffic; reject (ideally with a GmqError) when
   * it cannot. Called again by the core after `sink.onDisconnect`. An adapter with several
   * endpoints may rotate through them here.
   */
  connect(sink: TransportSink, options: OperationOptions): Promise<void>;

  /** Close the current connection politely. Must not call `sink.onDisconnect`. */
  disconnect(): Promise<void>;

  /**
   * Send one message. Resolve when the backend has accepted it (e.g. PUBACK for QoS 1, PUBCOMP
   * for QoS 2, written to the socket for QoS 0): the core drops the outbox record only then.
   * Reject with a GmqError: `no_responder` when the backend knows nobody listens (e.g. MQTT 5
   * "no matching subscribers" for a request), `disconnected` when the connection died first.
   * The core may call publish many times without awaiting, in order; keep that order on the wire.
   */
  publish(message: OutboundMessage, options: OperationOptions): Promise<void>;

  /** Required when `capabilities.subscribe`. Resolve when the backend confirmed (e.g. SUBACK). */
  subscribe?(request: SubscribeRequest, options: OperationOptions): Promise<void>;
  unsubscribe?(request: SubscribeRequest, options: OperationOptions): Promise<void>;

  /** Required when `capabilities.requestReply`. Reject remote failures with GmqError `remote`. */
  call?(request: CallRequest): Promise<CallResponse>;
}

/** A function that makes a fresh transport; what adapter packages export. */
export type TransportFactory<Options> = (options: Options) => Transport;
