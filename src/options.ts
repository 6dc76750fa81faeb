/**
 * Every option the client takes, its default and its validation, in one place. Invalid input
 * fails at once with `invalid_argument` naming the field.
 */
import type { BackoffOptions } from "./backoff.js";
import type { Codec } from "./codec.js";
import { GmqError } from "./errors.js";
import type { Message } from "./message.js";
import type { OutboxLimits } from "./outbox.js";
import type { OutboxStore } from "./store.js";
import type { QoS, Transport } from "./transport.js";
import { check, checkValue } from "./validate.js";

/** The defaults, all of them. */
export const DEFAULTS = {
  connectTimeoutMs: 10_000,
  callTimeoutMs: 10_000,
  reconnect: { initialDelayMs: 250, maxDelayMs: 30_000 },
  outbox: { maxCount: 100_000, maxBytes: 64 * 1024 * 1024, overflow: "reject", maxInFlight: 1000 },
  dedupWindow: 10_000,
  rpcPrefix: "_gmq/rpc",
  qos: 1,
  /** Messages a subscription holds delivered but not yet settled (handled and acked). */
  maxBuffered: 100,
} as const;

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
  /** Backoff between attempts (default 250 ms doubling up to 30 s, full jitter); `false`
   *  disables reconnecting. */
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
    /** Publishes awaiting the backend's acknowledgement at once. Default 1000 (1 on a
     *  request-only transport, which keeps the order that way). */
    maxInFlight?: number;
  };
  /** How many recent message ids to remember for dropping duplicates. Default 10,000; 0 turns
   *  dedup off. A backend's redelivery of a message the app has not acked is not a duplicate:
   *  it is delivered again. */
  dedupWindow?: number;
  /** Topic prefix for request/reply over pub/sub. Default `_gmq/rpc`. */
  rpcPrefix?: string;
}

/** ClientOptions with every default filled in. */
export interface ResolvedClientOptions {
  readonly transport: Transport;
  readonly store?: OutboxStore;
  readonly codec?: Codec<any>;
  readonly clientId?: string;
  readonly autoConnect: boolean;
  readonly reconnect: Required<BackoffOptions> | false;
  readonly connectTimeoutMs: number;
  readonly callTimeoutMs: number;
  readonly onConnect?: (session: Session) => Promise<void> | void;
  readonly outbox: Required<Omit<OutboxLimits, "maxAgeMs">> & { maxAgeMs: number | undefined };
  readonly maxInFlight: number;
  readonly dedupWindow: number;
  readonly rpcPrefix: string;
}

export interface PublishOptions {
  /** 0: at most once, never queued (fails `disconnected` when not connected). 1 (default) or 2:
   *  at least once, through the outbox. */
  qos?: QoS;
  /** Only on transports that retain messages (`capabilities.retain`). */
  retain?: boolean;
  /** Latest per key: an unsent older message with the same key is replaced. */
  key?: string;
  /** The backend's routing key (the gmq node's route key); only where the transport routes by key. */
  routeKey?: string;
  /** Dropped unsent after this long (and the backend may expire it too). */
  ttlMs?: number;
  /** Deliver this long after the publish; only on transports with the `delay` capability. */
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
  /** Load-balanced group (on MQTT the same as a `$share/<queue>/` prefix; on the gmq node, the
   *  bind key). */
  queue?: string;
  /** `auto` (default): acked when the handler settles / the next message is pulled. */
  ack?: "auto" | "manual";
  codec?: Codec<T>;
  /** Arguments of a stream (a server-streaming RPC's request), encoded with `codec`. */
  args?: unknown;
  /** Most messages held delivered but not yet settled (handled and acked); a pull backend fetches
   *  no more than that. Default 100. */
  maxBuffered?: number;
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

const PUBLISH = {
  qos: "qos",
  ttlMs: "ms",
  delayMs: "ms",
  timeoutMs: "ms",
  signal: "signal",
  headers: "headers",
  codec: "codec",
  key: "name",
  routeKey: "string",
  retain: "boolean",
} as const;
const SUBSCRIBE = {
  qos: "qos",
  codec: "codec",
  signal: "signal",
  maxBuffered: "count",
  ack: ["auto", "manual"],
  queue: "name",
} as const;
const CALL = { timeoutMs: "ms", signal: "signal", headers: "headers", codec: "codec" } as const;
const CLIENT = {
  codec: "codec",
  connectTimeoutMs: "ms",
  callTimeoutMs: "ms",
  clientId: "name",
  rpcPrefix: "name",
  onConnect: "function",
  autoConnect: "boolean",
  dedupWindow: "size",
} as const;
const OUTBOX = {
  maxCount: "count",
  maxBytes: "count",
  maxAgeMs: "count",
  maxInFlight: "count",
  overflow: ["reject", "drop-oldest"],
} as const;

function validateTransport(transport: Transport | undefined): void {
  const caps = transport?.capabilities;
  if (typeof transport?.publish !== "function" || typeof caps !== "object" || caps === null) {
    throw GmqError.invalid("transport", "must implement the Transport contract (publish, capabilities)");
  }
  check(
    caps,
    { connection: ["link", "request"], inbound: ["routed", "stream", "push", "none"] },
    "transport.capabilities",
    true,
  );
  // The methods every transport, and its shape, need.
  const needs: [keyof Transport, unknown, string][] = [
    ["disconnect", true, "every transport"],
    ["connect", caps.connection === "link", 'connection: "link"'],
    ["subscribe", caps.inbound === "routed" || caps.inbound === "stream", `inbound: "${caps.inbound}"`],
    ["call", caps.requestReply, "requestReply"],
    ["publishBatch", (caps.maxBatch ?? 0) > 0, "maxBatch"],
  ];
  for (const [method, needed, why] of needs) {
    if (needed && typeof transport[method] !== "function") {
      throw GmqError.invalid(`transport.${method}`, `must be a function for ${why}`);
    }
  }
}

export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  check(options, CLIENT);
  validateTransport(options.transport);
  const store = options.store as Partial<OutboxStore> | undefined;
  if (store !== undefined && (typeof store?.load !== "function" || typeof store.put !== "function")) {
    throw GmqError.invalid("store", "must implement the OutboxStore contract (load, put, delete, close)");
  }
  const outbox = options.outbox ?? {};
  check(outbox, OUTBOX, "outbox");
  const reconnect = options.reconnect;
  if (reconnect !== false && reconnect !== undefined) {
    check(reconnect, { initialDelayMs: "ms", maxDelayMs: "ms" }, "reconnect");
  }
  const requestOnly = options.transport.capabilities.connection === "request";
  const { maxInFlight, ...limits } = withDefaults(
    { ...DEFAULTS.outbox, maxAgeMs: undefined, maxInFlight: requestOnly ? 1 : DEFAULTS.outbox.maxInFlight },
    outbox,
  );
  return {
    // The scalar options over their defaults; the nested ones are resolved on their own below.
    ...withDefaults({ ...DEFAULTS, autoConnect: true }, options),
    reconnect: reconnect === false ? false : withDefaults(DEFAULTS.reconnect, reconnect ?? {}),
    outbox: limits,
    maxInFlight,
  };
}

/** `defaults` with what `given` sets: an option left undefined keeps its default. */
function withDefaults<D extends object, G extends object>(defaults: D, given: G): D & G {
  const resolved = { ...defaults } as Record<string, unknown>;
  for (const [name, value] of Object.entries(given)) if (value !== undefined) resolved[name] = value;
  return resolved as D & G;
}

/** What the transport cannot do that an option asks for (`unsupported`). */
function unsupported(transport: Transport, field: string, missing: boolean, what: string): void {
  if (missing) throw GmqError.unsupported(field, transport.name, what);
}

/** Publish options, and what the transport cannot do with them (`unsupported`). */
export function validatePublishOptions(options: PublishOptions, transport: Transport): void {
  check(options, PUBLISH);
  if (options.qos === 0 && options.key !== undefined) {
    throw GmqError.invalid("key", "needs qos 1 or 2 (qos 0 messages are never queued)");
  }
  const caps = transport.capabilities;
  unsupported(transport, "delayMs", options.delayMs !== undefined && !caps.delay, "cannot delay messages");
  unsupported(transport, "retain", options.retain === true && !caps.retain, "cannot retain messages");
  unsupported(
    transport,
    "routeKey",
    options.routeKey !== undefined && !caps.routeKeys,
    "does not route by key",
  );
}

/** Subscribe options, and what the transport cannot do with them (`unsupported`). */
export function validateSubscribeOptions(options: SubscribeOptions<unknown>, transport: Transport): void {
  check(options, SUBSCRIBE);
  const caps = transport.capabilities;
  unsupported(transport, "subscribe", caps.inbound === "none", "cannot deliver messages to subscribers");
  unsupported(transport, "queue", options.queue !== undefined && !caps.queues, "has no queue subscriptions");
  unsupported(transport, "ack", options.ack === "manual" && !caps.ack, "has no acknowledgements");
  unsupported(
    transport,
    "args",
    options.args !== undefined && caps.inbound !== "stream",
    "has no streams that take arguments",
  );
}

export function validateCallOptions(options: CallOptions): void {
  check(options, CALL);
}

export function validateHandleOptions(options: HandleOptions): void {
  check(options, { codec: "codec" });
  if (options.queue !== false) checkValue(options.queue, "name", "queue");
}
