import { EventEmitter } from "eventemitter3";
import { abortWatcher, unwatchAbort, watchAbort } from "./abort-watch.js";
import { Caller } from "./caller.js";
import { type Codec, encodePayload, jsonCodec, validateCodec } from "./codec.js";
import { Connection, type ConnectionState, type Link, type StateChange } from "./connection.js";
import { createDeadline, validateSignal } from "./deadline.js";
import { GmqError } from "./errors.js";
import { flushOutbox } from "./flush.js";
import { createIdGenerator, randomToken } from "./ids.js";
import { memoryStore } from "./memory-store.js";
import type { Message } from "./message.js";
import {
  type CallOptions,
  type ClientOptions,
  type HandleContext,
  type HandleOptions,
  type PublishOptions,
  type PublishResult,
  type Session,
  type SubscribeOptions,
  validateCallOptions,
  validateClientOptions,
  validatePublishOptions,
  validateQos,
} from "./options.js";
import { type DroppedEvent, Outbox, type OutboxStats } from "./outbox.js";
import { type OutboxPublisher, publishAtMostOnce, publishThroughOutbox } from "./publish.js";
import { Router } from "./router.js";
import { DEFAULT_RPC_PREFIX, INBOX_PREFIX, requestTopic, validateName } from "./rpc.js";
import { watchRuntime } from "./runtime.js";
import { StatusStream } from "./status.js";
import type { OutboxStore } from "./store.js";
import { type MessageHandler, Subscription } from "./subscription.js";
import { hasWildcard, parseSharedFilter, validateFilter, validateTopic } from "./topics.js";
import type { InboundMessage, Transport } from "./transport.js";

export interface ClientEvents {
  state: [change: StateChange];
  error: [error: GmqError];
  dropped: [event: DroppedEvent];
  outbox: [stats: OutboxStats];
}

export class Client extends EventEmitter<ClientEvents> implements AsyncDisposable {
  readonly clientId: string;
  readonly transport: Transport;
  private readonly store: OutboxStore;
  private readonly codec: Codec<any>;
  private readonly connection: Connection;
  private readonly router: Router;
  private readonly outbox: Outbox;
  private readonly caller: Caller;
  private readonly nextId: () => string;
  private readonly rpcPrefix: string;
  private readonly maxInFlight: number;
  private readonly loaded: Promise<void>;
  private readonly statuses = new Set<StatusStream>();
  private readonly stopWatching: () => void;
  private stopSharing: () => void = () => {};
  private notifyTimer: ReturnType<typeof setTimeout> | undefined;
  private storeFailure: GmqError | undefined;
  private isSender: boolean;
  private closing: Promise<void> | undefined;
  private readonly closed = new AbortController();
  private isClosed = false;
  private readonly publisher: OutboxPublisher;

  constructor(private readonly options: ClientOptions) {
    super();
    validateClientOptions(options);
    this.transport = options.transport;
    this.store = options.store ?? memoryStore();
    this.codec = options.codec ?? jsonCodec;
    this.clientId = options.clientId ?? randomToken(12);
    this.nextId = createIdGenerator();
    this.rpcPrefix = options.rpcPrefix ?? DEFAULT_RPC_PREFIX;
    this.maxInFlight = options.outbox?.maxInFlight ?? 1000;
    const onError = (error: GmqError) => this.emit("error", error);
    this.router = new Router(this.transport, options.dedupWindow ?? 10_000, onError);
    this.outbox = new Outbox(this.store, options.outbox ?? {}, {
      onDropped: (event) => this.emit("dropped", event),
      onChange: () => {
        // Stats cost a little per message; only compute them for someone who listens.
        if (this.listenerCount("outbox") > 0) this.emit("outbox", this.outbox.stats());
        this.tellOtherTabs();
      },

      onError,
    });
    // Made once: every publish passes it on.
    this.publisher = {
      outbox: this.outbox,
      durable: this.store.durable,
      // While the first attempt is under way, wait for it rather than report `queued` at once.
      canSend: () => this.isSender && (this.state === "connected" || this.state === "connecting"),
      persisted: () => {
        this.store.shared?.notify();
        this.pump();
      },
    };
    this.connection = new Connection(
      this.transport,
      { reconnect: options.reconnect ?? {}, connectTimeoutMs: options.connectTimeoutMs ?? 10_000 },
      {
        onState: (change) => {
          // Publishers waiting on an attempt that failed learn their message is queued.
          if (change.to !== "connecting" && change.to !== "connected") this.releaseWaitingPublishers();
          this.emit("state", change);
          for (const stream of this.statuses) stream.push(change);
        },
        onError,
        onMessage: (message) => this.receive(message),
        setup: (link) => this.setup(link),
        up: () => this.pump(),
        down: (_link, error) => this.down(error),
      },
    );
    this.caller = new Caller({
      transport: this.transport,
      connection: this.connection,
      nextId: this.nextId,
      inboxTopic: `${INBOX_PREFIX}/${this.clientId}`,
      rpcPrefix: this.rpcPrefix,
      callTimeoutMs: options.callTimeoutMs ?? 10_000,
      onError,
    });
    this.isSender = this.store.shared === undefined;
    this.loaded = this.outbox.load().catch((error: unknown) => {
      this.storeFailure = GmqError.from(error, "storage");
      onError(this.storeFailure);
    });
    this.loaded.then(() => this.pump());
    this.shareStore();
    this.stopWatching = watchRuntime({
      wake: () => {
        this.connection.wake();
        this.pump();
      },
      offline: () => this.connection.interrupt("the runtime went offline"),
    });
    if (options.autoConnect !== false) this.connection.start();
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** Starts connecting (if not already) and resolves once connected, with the outbox loaded
   *  from its store (so `outboxStats()` counts what an earlier run left). */
  async connect(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    this.assertOpen();
    const deadline = createDeadline({ ...options, what: "connect" });
    try {
      await Promise.race([
        Promise.all([this.connection.waitReady(deadline.signal), this.loaded]),
        deadline.done,
      ]);
      if (this.storeFailure) throw this.storeFailure;
    } finally {
      deadline.dispose();
    }
  }

  /** Resolves when the message is safe: accepted by the backend, or written to the outbox. */
  publish(topic: string, data: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    // Not `async`: a QoS 1 publish returns the outbox's own promise, one promise less per message.
    // Invalid arguments still reject rather than throw, as they did when this was async.
    try {
      return this.publishNow(topic, data, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private publishNow(topic: string, data: unknown, options: PublishOptions): Promise<PublishResult> {
    validateTopic(topic);
    validatePublishOptions(options);
    this.assertOpen();
    if (options.delayMs !== undefined && !this.transport.capabilities.delay) {
      throw new GmqError(
        "unsupported",
        `delayMs: the ${this.transport.name} transport cannot delay messages`,
        {
          field: "delayMs",
        },
      );
    }
    const payload = encodePayload(options.codec ?? this.codec, data);
    const id = this.nextId();
    const qos = options.qos ?? 1;
    const now = Date.now();
    const expiresAt = options.ttlMs === undefined ? undefined : now + options.ttlMs;
    if (qos === 0) {
      const message = { topic, payload, id, qos, ...pick(options, "headers", "retain", "delayMs") };
      return publishAtMostOnce(
        this.transport,
        this.connection.ready,
        expiresAt ? { ...message, expiresAt } : message,
        options,
      );
    }
    if (this.storeFailure) throw this.storeFailure;
    const record = { id, topic, payload, qos, createdAt: now, ...pick(options, "headers", "retain", "key") };
    return publishThroughOutbox(
      this.publisher,
      expiresAt === undefined ? record : { ...record, expiresAt },
      options,
    );
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
    validateFilter(pattern, "pattern");
    const shared = parseSharedFilter(pattern);
    validateFilter(shared.filter, "pattern");
    validateQos(options.qos);
    validateCodec(options.codec);
    validateSignal(options.signal);
    if (options.ack !== undefined && options.ack !== "auto" && options.ack !== "manual") {
      throw GmqError.invalid("ack", 'must be "auto" or "manual"');
    }
    if (options.queue !== undefined && (typeof options.queue !== "string" || options.queue === "")) {
      throw GmqError.invalid("queue", "must be a non-empty string");
    }
    this.assertOpen();
    const caps = this.transport.capabilities;
    const queue = options.queue ?? shared.group;
    if (queue !== undefined && !caps.queues) {
      throw new GmqError(
        "unsupported",
        `queue: the ${this.transport.name} transport has no queue subscriptions`,
      );
    }
    if (caps.subscribe && !caps.wildcards && hasWildcard(shared.filter)) {
      throw new GmqError(
        "unsupported",
        `pattern: the ${this.transport.name} transport cannot match wildcards`,
      );
    }
    if (options.ack === "manual" && !caps.ack) {
      throw new GmqError("unsupported", `ack: the ${this.transport.name} transport has no acknowledgements`);
    }
    const subscription = new Subscription<T>(
      {
        pattern,
        filter: shared.filter,
        queue,
        qos: options.qos ?? 1,
        manualAck: options.ack === "manual",
        codec: (options.codec ?? this.codec) as Codec<T>,
        handler,
      },
      (error) => this.emit("error", error),
      (sub) => this.router.remove(sub),
    );
    const { signal } = options;
    if (signal?.aborted) {
      void subscription.unsubscribe();
      return subscription;
    }
    this.router.add(subscription);
    if (signal) {
      const stop = abortWatcher(() => void subscription.unsubscribe());
      watchAbort(signal, stop);
      // Forget the listener when the subscription ends some other way.
      void subscription.ended.then(() => unwatchAbort(signal, stop));
    }
    this.connection.start();
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
      return this.callOn(undefined, service, method, args, options);
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
    validateName(service, "service");
    validateName(method, "method");
    if (typeof fn !== "function") throw GmqError.invalid("fn", "must be a function");
    const caps = this.transport.capabilities;
    if (!caps.subscribe || !caps.headers) {
      throw new GmqError("unsupported", `handle: the ${this.transport.name} transport cannot serve calls`);
    }
    const queue = options.queue === false ? undefined : options.queue;
    const codec = options.codec ?? this.codec;
    // Calls are served concurrently: the handler returns before the answer is ready.
    return this.subscribe<A>(
      requestTopic(this.rpcPrefix, service, method),
      (message) => {
        this.caller.answer(message, fn, codec);
      },
      { codec, ...(queue && { queue }) },
    );
  }

  outboxStats(): OutboxStats {
    return this.outbox.stats();
  }

  /** State changes as a stream, starting with the current state; ends when the client closes. */
  status(): AsyncIterableIterator<StateChange> {
    const stream = new StatusStream(this.connection.state, () => this.statuses.delete(stream));
    this.statuses.add(stream);
    return stream;
  }

  /** Stops everything. Queued records stay in a durable store for the next run. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async shutdown(): Promise<void> {
    this.isClosed = true;
    this.closed.abort(new GmqError("closed", "client is closed"));
    this.stopWatching();
    this.stopSharing();
    clearTimeout(this.notifyTimer);
    this.router.detach();
    await this.connection.close();
    this.caller.failAll(new GmqError("closed", "client is closed"));
    await this.router.closeAll();
    await this.loaded;
    if (!this.store.durable) this.outbox.abandon();
    await this.store.close().catch((error: unknown) => this.emit("error", GmqError.from(error, "storage")));
    for (const stream of this.statuses) stream.end();
  }

  private assertOpen(): void {
    // A flag, not `closed.signal.aborted`: Node's AbortSignal getter is slow for every publish.
    if (this.isClosed) throw new GmqError("closed", "client is closed");
  }

  private callOn<R>(
    link: Link | undefined,
    service: string,
    method: string,
    args: unknown,
    options: CallOptions,
  ): Promise<R> {
    validateName(service, "service");
    validateName(method, "method");
    validateCallOptions(options);
    this.assertOpen();
    const caps = this.transport.capabilities;
    if (!caps.requestReply && !(caps.subscribe && caps.headers)) {
      throw new GmqError("unsupported", `call: the ${this.transport.name} transport has no request/reply`);
    }
    return this.caller.call<R>(link, service, method, args, options, options.codec ?? this.codec);
  }

  private async setup(link: Link): Promise<void> {
    await this.caller.restore(link);
    const hook = this.options.onConnect;
    if (hook) {
      const session: Session = {
        clientId: this.clientId,
        signal: link.signal,
        call: (service, method, args, options = {}) => this.callOn(link, service, method, args, options),
      };
      await hook(session);
    }
    await this.router.restore(link.signal);
  }

  private down(error: GmqError): void {
    this.router.detach();
    this.caller.failAll(
      error.code === "closed"
        ? error
        : new GmqError("disconnected", `connection lost: ${error.message}`, { cause: error }),
    );
    this.outbox.requeueInFlight();
    this.releaseWaitingPublishers();
  }

  /** Publishers still waiting for an ack learn that their message is queued instead. */
  private releaseWaitingPublishers(): void {
    for (const entry of this.outbox.pending()) if (entry.persisted) entry.listener?.persisted();
  }

  private receive(message: InboundMessage): void {
    if (!this.caller.receive(message)) this.router.route(message);
  }

  /** Sends what waits in the outbox, when connected and the sender for this outbox. */
  private pump(): void {
    const link = this.connection.ready;
    if (!link || !this.isSender || this.storeFailure) return;
    flushOutbox(
      this.outbox,
      this.transport,
      link,
      this.maxInFlight,
      () => this.pump(),
      (error) => this.connection.interrupt(`publish failed on a live connection: ${error.message}`),
    );
  }

  /** The sender tells the others (debounced) when records left, so their counts stay true. */
  private tellOtherTabs(): void {
    const shared = this.store.shared;
    if (!shared || !this.isSender || this.notifyTimer !== undefined) return;
    this.notifyTimer = setTimeout(() => {
      this.notifyTimer = undefined;
      shared.notify();
    }, 100);
  }

  /** With a store shared by several tabs, only the one holding the sender role flushes. */
  private shareStore(): void {
    const shared = this.store.shared;
    if (!shared) return;
    this.stopSharing = shared.onChange(() => {
      void this.outbox.load().then(
        () => this.pump(),
        (error: unknown) => this.emit("error", GmqError.from(error, "storage")),
      );
    });
    shared.acquireSender(this.closed.signal).then(
      async (release) => {
        this.closed.signal.addEventListener("abort", release, { once: true });
        await this.loaded;
        await this.outbox.load();
        this.isSender = true;
        this.pump();
      },
      () => {},
    );
  }
}

export function createClient(options: ClientOptions): Client {
  return new Client(options);
}

function pick<T extends object, K extends keyof T>(source: T, ...keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}
