import { EventEmitter } from "eventemitter3";
import { abortError, abortWatcher, unwatchAbort, watchAbort } from "./abort-watch.js";
import { Caller } from "./caller.js";
import { type Codec, encodePayload, jsonCodec } from "./codec.js";
import {
  Connection,
  type ConnectionHooks,
  type ConnectionState,
  type Link,
  type StateChange,
} from "./connection.js";
import { createDeadline } from "./deadline.js";
import { GmqError } from "./errors.js";
import { type FlushContext, flushOutbox } from "./flush.js";
import { createIdGenerator, randomToken } from "./ids.js";
import { memoryStore } from "./memory-store.js";
import type { Message } from "./message.js";
import { Naming } from "./naming.js";
import { observeRequests } from "./observed-transport.js";
import {
  type CallOptions,
  type ClientOptions,
  DEFAULTS,
  type HandleContext,
  type HandleOptions,
  type PublishOptions,
  type PublishResult,
  type ResolvedClientOptions,
  resolveClientOptions,
  type SubscribeOptions,
  validateCallOptions,
  validateHandleOptions,
  validatePublishOptions,
  validateSubscribeOptions,
} from "./options.js";
import { type DroppedEvent, Outbox, type OutboxStats } from "./outbox.js";
import { Positions } from "./positions.js";
import { type OutboxPublisher, publishAtMostOnce, publishThroughOutbox } from "./publish.js";
import { Router } from "./router.js";
import { INBOX_PREFIX, requestTopic } from "./rpc.js";
import { watchRuntime } from "./runtime.js";
import { SenderElection } from "./sender-election.js";
import { StatusStream } from "./status.js";
import type { OutboxRecord, OutboxStore } from "./store.js";
import { type MessageHandler, Subscription, type SubscriptionSpec } from "./subscription.js";
import type { InboundMessage, OutboundMessage, Transport } from "./transport.js";

export interface ClientEvents {
  state: [change: StateChange];
  error: [error: GmqError];
  dropped: [event: DroppedEvent];
  outbox: [stats: OutboxStats];
}

/**
 * The client: wires the connection state machine, the outbox, the router and the caller
 * together. The policies live in those pieces and in `options.ts`.
 */
export class Client extends EventEmitter<ClientEvents> implements AsyncDisposable {
  // The public fields are declared only (the constructor sets them): no definitions run first.
  declare readonly clientId: string;
  declare readonly transport: Transport;
  readonly #config: ResolvedClientOptions;
  /** The transport as the client uses it (request outcomes observed on request-only ones). */
  readonly #wire: Transport;
  readonly #naming: Naming;
  readonly #store: OutboxStore;
  readonly #codec: Codec<any>;
  readonly #connection: Connection;
  declare private readonly router: Router;
  readonly #positions: Positions;
  readonly #outbox: Outbox;
  declare private readonly caller: Caller;
  readonly #election: SenderElection;
  readonly #nextId: () => string;
  readonly #loaded: Promise<void>;
  readonly #statuses = new Set<StatusStream>();
  readonly #stopWatching: () => void;
  #storeFailure: GmqError | undefined;
  #closing: Promise<void> | undefined;
  readonly #closed = new AbortController();
  #isClosed = false;
  readonly #publisher: OutboxPublisher;
  readonly #flushing: FlushContext;

  constructor(options: ClientOptions) {
    super();
    const config = resolveClientOptions(options);
    this.#config = config;
    this.transport = config.transport;
    this.#naming = new Naming(this.transport);
    this.#store = config.store ?? memoryStore();
    this.#codec = config.codec ?? jsonCodec;
    this.clientId = config.clientId ?? randomToken(12);
    this.#nextId = createIdGenerator();
    const onError = (error: GmqError) => this.emit("error", error);

    const hooks: ConnectionHooks = {
      onState: (change) => {
        // Publishers waiting on an attempt that failed learn their message is queued.
        if (change.to !== "connecting" && change.to !== "connected") this.#releaseWaitingPublishers();
        this.emit("state", change);
        for (const stream of this.#statuses) stream.push(change);
      },
      onError,
      onMessage: (message) => this.#receive(message),
      setup: (link) => this.#setup(link),
      up: () => this.#pump(),
      down: (_link, error) => this.#down(error),
    };
    const connection = new Connection(this.transport, config, hooks);
    this.#connection = connection;
    this.#wire =
      this.transport.capabilities.connection === "request"
        ? observeRequests(this.transport, connection)
        : this.transport;

    this.#positions = new Positions(this.#store, onError);
    this.router = new Router(this.#wire, {
      dedupWindow: config.dedupWindow,
      reconnect: config.reconnect,
      positions: this.#positions,
      onError,
    });
    this.#outbox = new Outbox(this.#store, config.outbox, {
      onDropped: (event) => this.emit("dropped", event),
      onChange: () => {
        // Stats cost a little per message; only compute them for someone who listens.
        if (this.listenerCount("outbox") > 0) this.emit("outbox", this.#outbox.stats());
        this.#election.tellOthers();
      },
      onPersisted: () => {
        this.#election.persisted();
        this.#pump();
      },
      onError,
    });
    this.#election = new SenderElection(this.#store, this.#outbox, {
      becameSender: () => this.#pump(),
      changed: () => this.#pump(),
      onError,
    });
    // Made once: every publish passes it on.
    this.#publisher = {
      outbox: this.#outbox,
      durable: this.#store.durable,
      // While the first attempt is under way, wait for it rather than report `queued` at once.
      canSend: () => this.#election.isSender && (this.state === "connected" || this.state === "connecting"),
    };
    this.#flushing = {
      outbox: this.#outbox,
      transport: this.#wire,
      maxInFlight: config.maxInFlight,
      again: () => this.#pump(),
      linkBroken: (error) =>
        this.#connection.interrupt(`publish failed on a live connection: ${error.message}`, error),
    };
    this.caller = new Caller({
      transport: this.#wire,
      connection: this.#connection,
      nextId: this.#nextId,
      inboxTopic: `${INBOX_PREFIX}/${this.clientId}`,
      rpcPrefix: config.rpcPrefix,
      callTimeoutMs: config.callTimeoutMs,
      onError,
    });
    this.#loaded = this.#outbox.load().catch((error: unknown) => {
      this.#storeFailure = GmqError.from(error, "storage");
      onError(this.#storeFailure);
    });
    this.#loaded.then(() => this.#pump());
    this.#election.start(this.#loaded, this.#closed.signal);
    this.#stopWatching = watchRuntime({
      wake: () => {
        this.#connection.wake();
        this.#pump();
      },
      offline: () => this.#connection.interrupt("the runtime went offline"),
    });
    if (config.autoConnect) this.#connection.start();
  }

  get state(): ConnectionState {
    return this.#connection.state;
  }

  /** Starts connecting (if not already; again after a permanent failure) and resolves once
   *  connected — on a request-only transport, once requests can be sent — with the outbox
   *  loaded from its store (so `outboxStats()` counts what an earlier run left). */
  async connect(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    this.#assertOpen();
    const deadline = createDeadline({ ...options, what: "connect" });
    try {
      await Promise.race([
        Promise.all([this.#connection.waitReady(deadline.signal), this.#loaded]),
        deadline.done,
      ]);
      if (this.#storeFailure) throw this.#storeFailure;
    } catch (error) {
      // A deadline that passed while attempts failed says what the last one failed with.
      const last = this.#connection.lastError;
      if (GmqError.is(error) && error.code === "timeout" && last) {
        throw new GmqError("timeout", `${error.message}; the last attempt failed: ${last.message}`, {
          cause: last,
          ...(last.reason !== undefined && { reason: last.reason }),
        });
      }
      throw error;
    } finally {
      deadline.dispose();
    }
  }

  /** Resolves when the message is safe: accepted by the backend, or written to the outbox. */
  publish(topic: string, data: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    // Not `async`: a QoS 1 publish returns the outbox's own promise, one promise less per message.
    // Invalid arguments still reject rather than throw, as they did when this was async.
    try {
      return this.#publishNow(topic, data, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #publishNow(topic: string, data: unknown, options: PublishOptions): Promise<PublishResult> {
    this.#naming.topic(topic);
    validatePublishOptions(options, this.transport);
    this.#assertOpen();
    const payload = encodePayload(options.codec ?? this.#codec, data);
    const id = this.#nextId();
    const qos = options.qos ?? 1;
    const now = Date.now();
    // Built field by field with only what is present: the record is also the message a transport
    // sends (QoS 0 too: createdAt is the outbox's own, and harmless), and what a store persists.
    const record = { id, topic, payload, qos, createdAt: now } as Mutable<OutboxRecord>;
    if (options.headers !== undefined) record.headers = options.headers;
    if (options.retain !== undefined) record.retain = options.retain;
    if (options.delayMs !== undefined) record.delayMs = options.delayMs;
    if (options.routeKey !== undefined) record.routeKey = options.routeKey;
    if (options.ttlMs !== undefined) record.expiresAt = now + options.ttlMs;
    // What only the backend's rules can judge (a delay range, a route key pattern, a body size)
    // fails here, at once, not when the outbox sends it.
    this.transport.checkPublish?.(record as OutboundMessage);
    if (qos === 0)
      return publishAtMostOnce(this.#wire, this.#connection.ready, record as OutboundMessage, options);
    if (this.#storeFailure) throw this.#storeFailure;
    if (options.key !== undefined) record.key = options.key;
    return publishThroughOutbox(this.#publisher, record, options);
  }

  subscribe<T = unknown>(pattern: string, options?: SubscribeOptions<T>): Subscription<T>;
  subscribe<T = unknown>(
    pattern: string,
    handler: MessageHandler<T>,
    options?: SubscribeOptions<T>,
  ): Subscription<T>;
  subscribe<T = unknown>(
    pattern: string,
    handlerOrOptions?: MessageHandler<T> | SubscribeOptions<T>,
    maybeOptions: SubscribeOptions<T> = {},
  ): Subscription<T> {
    const handler = typeof handlerOrOptions === "function" ? handlerOrOptions : undefined;
    const options = (typeof handlerOrOptions === "object" ? handlerOrOptions : maybeOptions) ?? {};
    if (
      handlerOrOptions !== undefined &&
      typeof handlerOrOptions !== "function" &&
      typeof handlerOrOptions !== "object"
    ) {
      throw GmqError.invalid("handler", "must be a function");
    }
    validateSubscribeOptions(options, this.transport);
    const shared = this.#naming.pattern(pattern);
    const codec = (options.codec ?? this.#codec) as Codec<T>;
    return this.#track(
      {
        pattern,
        filter: shared.filter,
        queue: options.queue ?? shared.group,
        qos: options.qos ?? 1,
        manualAck: options.ack === "manual",
        codec,
        handler,
        args: options.args === undefined ? undefined : encodePayload(codec, options.args),
        maxBuffered: options.maxBuffered ?? DEFAULTS.maxBuffered,
        serve: undefined,
      },
      options.signal,
    );
  }

  /** A subscription from its spec, once the transport can serve its queue and the client is open:
   *  routed, ended by `signal`, connecting if need be. */
  #track<T>(spec: SubscriptionSpec<T>, signal: AbortSignal | undefined): Subscription<T> {
    if (spec.queue !== undefined && !this.transport.capabilities.queues) {
      throw GmqError.unsupported("queue", this.transport.name, "has no queue subscriptions");
    }
    this.#assertOpen();
    const subscription = new Subscription<T>(spec, this.router);
    const aborted = (watched: AbortSignal) =>
      void subscription.end(undefined, abortError(watched, "subscribe"));
    if (signal?.aborted) {
      aborted(signal);
      return subscription;
    }
    this.router.add(subscription);
    if (signal) {
      const stop = abortWatcher(aborted);
      watchAbort(signal, stop);
      // Forget the listener when the subscription ends some other way.
      void subscription.ended.then(() => unwatchAbort(signal, stop));
    }
    this.#connection.start();
    return subscription;
  }

  async ack(message: Message<unknown>): Promise<void> {
    await message.ack();
  }

  async nack(message: Message<unknown>, options?: { requeue?: boolean }): Promise<void> {
    await message.nack(options);
  }

  /** Request/reply: natively where the transport has it, else over pub/sub with a reply inbox. */
  call<R = unknown>(service: string, method: string, args?: unknown, options: CallOptions = {}): Promise<R> {
    // Like publish: bad input (a name, an option, args the codec cannot encode) rejects.
    try {
      return this.#callOn(undefined, service, method, args, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Serves `call(service, method)`; the returned subscription stops serving when closed. */
  handle<A = unknown, R = unknown>(
    service: string,
    method: string,
    fn: (args: A, context: HandleContext) => R | Promise<R>,
    options: HandleOptions = {},
  ): Subscription<A> {
    this.#naming.call(service, method);
    if (typeof fn !== "function") throw GmqError.invalid("fn", "must be a function");
    validateHandleOptions(options);
    const caps = this.transport.capabilities;
    const native = caps.serve === true;
    if (!native && (caps.inbound !== "routed" || !caps.headers)) {
      throw GmqError.unsupported("handle", this.transport.name, "cannot serve calls");
    }
    const topic = requestTopic(this.#config.rpcPrefix, service, method);
    return this.#track<A>(
      {
        pattern: topic,
        filter: topic,
        queue: options.queue === false ? undefined : options.queue,
        qos: 1,
        manualAck: false,
        codec: options.codec ?? this.#codec,
        // Calls are served concurrently: the handler returns before the answer is ready.
        handler: (message) => this.caller.answer(message, fn, options.codec ?? this.#codec),
        args: undefined,
        maxBuffered: DEFAULTS.maxBuffered,
        serve: native ? { service, method } : undefined,
      },
      undefined,
    );
  }

  outboxStats(): OutboxStats {
    return this.#outbox.stats();
  }

  /** State changes as a stream, starting with the current state; ends when the client closes. */
  status(): AsyncIterableIterator<StateChange> {
    const stream = new StatusStream(this.#connection.state, () => this.#statuses.delete(stream));
    this.#statuses.add(stream);
    return stream;
  }

  /** Stops everything. Queued records stay in a durable store for the next run. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #shutdown(): Promise<void> {
    this.#isClosed = true;
    this.#closed.abort(new GmqError("closed", "client is closed"));
    this.#stopWatching();
    this.#election.stop();
    this.router.detach();
    await this.#connection.close();
    this.caller.failAll(new GmqError("closed", "client is closed"));
    await this.router.closeAll();
    await this.#loaded;
    await this.#positions.drain();
    if (!this.#store.durable) this.#outbox.abandon();
    await this.#store.close().catch((error: unknown) => this.emit("error", GmqError.from(error, "storage")));
    for (const stream of this.#statuses) stream.end();
  }

  #assertOpen(): void {
    // A flag, not `closed.signal.aborted`: Node's AbortSignal getter is slow for every publish.
    if (this.#isClosed) throw new GmqError("closed", "client is closed");
  }

  #callOn<R>(
    link: Link | undefined,
    service: string,
    method: string,
    args: unknown,
    options: CallOptions,
  ): Promise<R> {
    this.#naming.call(service, method);
    validateCallOptions(options);
    this.#assertOpen();
    const caps = this.transport.capabilities;
    if (!caps.requestReply && !(caps.inbound === "routed" && caps.headers)) {
      throw GmqError.unsupported("call", this.transport.name, "has no request/reply");
    }
    return this.caller.call<R>(link, service, method, args, options, options.codec ?? this.#codec);
  }

  async #setup(link: Link): Promise<void> {
    await this.caller.restore(link);
    const hook = this.#config.onConnect;
    if (hook) {
      await hook({
        clientId: this.clientId,
        signal: link.signal,
        call: (service, method, args, options = {}) => this.#callOn(link, service, method, args, options),
      });
    }
    await this.router.restore(link);
  }

  #down(error: GmqError): void {
    this.router.detach(error);
    // No answer can come on a lost link. A request-only transport's requests are each their own:
    // one that failed says nothing about the others, which settle by their own outcome.
    if (this.transport.capabilities.connection === "link" || error.code === "closed") {
      this.caller.failAll(
        error.code === "closed"
          ? error
          : new GmqError("disconnected", `connection lost: ${error.message}`, { cause: error }),
      );
    }
    this.#outbox.requeueInFlight();
    this.#releaseWaitingPublishers();
  }

  /** Publishers still waiting for an ack learn that their message is queued instead. */
  #releaseWaitingPublishers(): void {
    for (const entry of this.#outbox.pending()) if (entry.persisted) entry.stored();
  }

  #receive(message: InboundMessage): void {
    if (!this.caller.receive(message)) this.router.route(message);
  }

  /** Sends what waits in the outbox, when connected and the sender for this outbox. */
  #pump(): void {
    const link = this.#connection.ready;
    if (!link || !this.#election.isSender || this.#storeFailure) return;
    flushOutbox(this.#flushing, link);
  }
}

export function createClient(options: ClientOptions): Client {
  return new Client(options);
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
