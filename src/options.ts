import type { BackoffOptions } from "./backoff.js";
import type { Codec } from "./codec.js";
import { validateCodec } from "./codec.js";
import { validateSignal, validateTimeout } from "./deadline.js";
import { GmqError } from "./errors.js";
import type { Message } from "./message.js";
import type { OutboxLimits } from "./outbox.js";
import type { OutboxStore } from "./store.js";
import type { QoS, Transport } from "./transport.js";

/** What the after-connect hook gets: enough to log in again before anything else is sent. */
export interface Session {
  readonly clientId: string;
  /** Aborts when this connection is lost. */
  readonly signal: AbortSignal;
  /** A call on this connection, allowed before the client reports `connected`. */
  call<R = unknown>(service: string, method: string, args?: unknown, options?: CallOptions): Promise<R>;
}

export interface ClientOptions {
  transport: Transport;
  /** Where queued publishes wait. Default: in memory. */
  store?: OutboxStore;
  /** Default JSON. Uint8Array payloads are always sent as they are. */
  codec?: Codec<any>;
  /** Names this client's reply inbox. Default: random. */
  clientId?: string;
  /** Connect at once (default) or on the first `connect()`/operation. */
  autoConnect?: boolean;
  /** Backoff between attempts; `false` disables reconnecting. */
  reconnect?: BackoffOptions | false;
  /** Default 10 s. */
  connectTimeoutMs?: number;
  /** Default deadline of `call`, 10 s. */
  callTimeoutMs?: number;
  /** Runs after every (re)connect, before subscriptions resume and the outbox flushes; e.g. log
   *  in again on a backend where a reconnect is a new anonymous session. Throwing fails the
   *  attempt and it is retried with backoff. */
  onConnect?: (session: Session) => Promise<void> | void;
  outbox?: OutboxLimits & {
    /** Publishes awaiting the backend's acknowledgement at once. Default 1000. */
    maxInFlight?: number;
  };
  /** How many recent message ids to remember for dropping duplicates. Default 10,000; 0 turns
   *  dedup off. */
  dedupWindow?: number;
  /** Topic prefix for request/reply over pub/sub. Default `_gmq/rpc`. */
  rpcPrefix?: string;
}

export interface PublishOptions {
  /** 0: at most once, never queued (fails `offline` when disconnected). 1 (default) or 2: at
   *  least once, through the outbox. */
  qos?: QoS;
  retain?: boolean;
  /** Latest per key: an unsent older message with the same key is replaced. */
  key?: string;
  /** Dropped unsent after this long (and the backend may expire it too). */
  ttlMs?: number;
  /** Deliver later; only on transports with the `delay` capability. */
  delayMs?: number;
  headers?: Record<string, string>;
  codec?: Codec<any>;
  /** Aborting withdraws the message from the outbox if it has not been handed to the transport. */
  signal?: AbortSignal;
  /** Like an abort at the deadline, if the message is not safe by then. */
  timeoutMs?: number;
}

export interface PublishResult {
  readonly id: string;
  /** `sent`: the backend accepted it. `queued`: in the outbox, sent when the connection allows.
   *  `replaced`: a newer message with the same key took its place before it was sent. */
  readonly status: "sent" | "queued" | "replaced";
  /** Whether the outbox survives a reload or crash. */
  readonly durable: boolean;
}

export interface SubscribeOptions<T = unknown> {
  /** Default 1. */
  qos?: QoS;
  /** Load-balanced group (same as a `$share/<queue>/` prefix). */
  queue?: string;
  /** `auto` (default): acked when the handler settles / the next message is pulled. */
  ack?: "auto" | "manual";
  codec?: Codec<T>;
  /** Aborting unsubscribes (and ends an async iteration). */
  signal?: AbortSignal;
}

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  codec?: Codec<any>;
}

export interface HandleContext {
  readonly id: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly message: Message<unknown>;
}

export interface HandleOptions {
  /** Load-balancing group when several processes serve the same method (needs a transport with
   *  queues, e.g. MQTT 5 shared subscriptions). Without one every instance answers and the caller
   *  takes the first reply. */
  queue?: string | false;
  codec?: Codec<any>;
}

export function validateClientOptions(options: ClientOptions): void {
  if (typeof options !== "object" || options === null) throw GmqError.invalid("options", "must be an object");
  const t = options.transport as Partial<Transport> | undefined;
  if (!t || typeof t.connect !== "function" || typeof t.publish !== "function" || !t.capabilities) {
    throw GmqError.invalid(
      "transport",
      "must implement the Transport contract (connect, publish, capabilities)",
    );
  }
  validateCodec(options.codec);
  validateTimeout(options.connectTimeoutMs, "connectTimeoutMs");
  validateTimeout(options.callTimeoutMs, "callTimeoutMs");
  const s = options.store as Partial<OutboxStore> | undefined;
  if (s !== undefined && (typeof s.load !== "function" || typeof s.put !== "function")) {
    throw GmqError.invalid("store", "must implement the OutboxStore contract");
  }
  for (const field of ["maxCount", "maxBytes", "maxAgeMs", "maxInFlight"] as const) {
    const value = options.outbox?.[field];
    if (value !== undefined && (!Number.isInteger(value) || value <= 0)) {
      throw GmqError.invalid(`outbox.${field}`, "must be a positive integer");
    }
  }
  const dedup = options.dedupWindow;
  if (dedup !== undefined && (!Number.isInteger(dedup) || dedup < 0)) {
    throw GmqError.invalid("dedupWindow", "must be a non-negative integer (0 turns dedup off)");
  }
}

export function validateQos(qos: unknown, field = "qos"): asserts qos is QoS | undefined {
  if (qos !== undefined && qos !== 0 && qos !== 1 && qos !== 2)
    throw GmqError.invalid(field, "must be 0, 1 or 2");
}

export function validateHeaders(headers: unknown): void {
  if (headers === undefined) return;
  if (typeof headers !== "object" || headers === null) throw GmqError.invalid("headers", "must be an object");
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== "string") throw GmqError.invalid(`headers.${name}`, "must be a string");
  }
}

export function validatePublishOptions(options: PublishOptions): void {
  if (typeof options !== "object" || options === null) throw GmqError.invalid("options", "must be an object");
  validateQos(options.qos);
  validateTimeout(options.ttlMs, "ttlMs");
  validateTimeout(options.delayMs, "delayMs");
  validateTimeout(options.timeoutMs, "timeoutMs");
  validateSignal(options.signal);
  validateHeaders(options.headers);
  validateCodec(options.codec);
  if (options.key !== undefined && (typeof options.key !== "string" || options.key === "")) {
    throw GmqError.invalid("key", "must be a non-empty string");
  }
  if (options.retain !== undefined && typeof options.retain !== "boolean") {
    throw GmqError.invalid("retain", "must be a boolean");
  }
  if (options.qos === 0 && options.key !== undefined) {
    throw GmqError.invalid("key", "needs qos 1 or 2 (qos 0 messages are never queued)");
  }
}

export function validateCallOptions(options: CallOptions): void {
  if (typeof options !== "object" || options === null) throw GmqError.invalid("options", "must be an object");
  validateTimeout(options.timeoutMs);
  validateSignal(options.signal);
  validateHeaders(options.headers);
  validateCodec(options.codec);
}
