import { EventEmitter } from "eventemitter3";
import type { Codec } from "./codec.js";
import { GmqError } from "./errors.js";
import { ACKED, type Message } from "./message.js";
import type { QoS } from "./transport.js";

export type MessageHandler<T> = (message: Message<T>) => unknown;

export type SubscriptionState = "subscribing" | "subscribed" | "closed";

export interface SubscriptionStateChange {
  readonly from: SubscriptionState;
  readonly to: SubscriptionState;
  /** Why it went back to `subscribing` (connection lost, stream ended) or closed with a failure. */
  readonly error?: GmqError;
  /** On `subscribed` after resuming a stream from its last position: whether every message since
   *  came (true), or some are lost for good (false: resync from your source of truth). */
  readonly recovered?: boolean;
}

export interface SubscriptionEvents {
  state: [change: SubscriptionStateChange];
}

export interface SubscriptionSpec<T> {
  /** What the user passed, e.g. `$share/workers/jobs/+`. */
  readonly pattern: string;
  /** The filter messages are matched against, e.g. `jobs/+`. */
  readonly filter: string;
  readonly queue: string | undefined;
  readonly qos: QoS;
  readonly manualAck: boolean;
  readonly codec: Codec<T>;
  readonly handler: MessageHandler<T> | undefined;
  /** A stream's arguments, encoded. */
  readonly args: Uint8Array | undefined;
  /** Most messages held delivered but not settled. */
  readonly maxBuffered: number;
  /** `handle()` on a transport that serves natively: the calls of this service and method. */
  readonly serve: { readonly service: string; readonly method: string } | undefined;
}

/** What a subscription tells whoever feeds it. */
export interface SubscriptionOwner {
  /** The subscription was closed by the app (unsubscribe, abort, client closed). */
  removed(subscription: Subscription<any>): Promise<void>;
  /** A message was settled: the subscription can take one more. */
  settled(subscription: Subscription<any>): void;
  onError(error: GmqError): void;
}

/**
 * A live subscription: a callback target or an async iterator (not both). Messages are handled
 * one at a time, in arrival order. In auto-ack mode a message is acked when its handler settles
 * or, when iterating, when the next one is requested. Each message holds one unit of the
 * subscription's buffer from delivery until it is settled (acked or nacked), which is what a
 * pull backend's flow control sees.
 */
export class Subscription<T = unknown>
  extends EventEmitter<SubscriptionEvents>
  implements AsyncIterable<Message<T>>
{
  // Declared only, like `decode` and `ready`: the constructor sets them.
  declare readonly pattern: string;
  /** Resolves once the backend confirmed the subscription (first time); rejects if it ends first. */
  declare readonly ready: Promise<void>;
  /** @internal The payload decoder handed to each delivered message (one closure, not one each). */
  declare readonly decode: (bytes: Uint8Array) => T;
  /** @internal Messages delivered and not yet settled. */
  unsettled = 0;
  #current: SubscriptionState = "subscribing";
  readonly #buffer: Message<T>[] = [];
  #waiting: { resolve(result: IteratorResult<Message<T>>): void; reject(error: GmqError): void } | undefined;
  #iterating = false;
  #running = false;
  #closed = false;
  #failure: GmqError | undefined;
  #lastYielded: Message<T> | undefined;
  #markReady!: () => void;
  #markEnded!: () => void;
  readonly #endedPromise = new Promise<void>((resolve) => {
    this.#markEnded = resolve;
  });
  #failReady!: (error: GmqError) => void;
  readonly #owner: SubscriptionOwner;

  constructor(
    readonly spec: SubscriptionSpec<T>,
    owner: SubscriptionOwner,
  ) {
    super();
    this.#owner = owner;
    this.pattern = spec.pattern;
    const codec = spec.codec;
    this.decode = (bytes) => codec.decode(bytes);
    this.ready = new Promise<void>((resolve, reject) => {
      this.#markReady = resolve;
      this.#failReady = reject;
    });
    this.ready.catch(() => {});
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  get state(): SubscriptionState {
    return this.#current;
  }

  /** How many more messages it can take before its buffer is full. */
  get credit(): number {
    return this.spec.maxBuffered - this.unsettled;
  }

  /** @internal The backend confirmed it (and said whether a resumed stream missed anything). */
  confirmed(recovered?: boolean): void {
    this.#setState("subscribed", undefined, recovered);
    this.#markReady();
  }

  /** @internal It is being set up again (connection lost, stream ended or failed). */
  interrupted(error: GmqError): void {
    this.#setState("subscribing", error);
  }

  /** @internal It cannot be set up: it ends with this error. */
  refused(error: GmqError): void {
    if (this.#closed) return;
    this.#failure = error;
    this.#owner.onError(error);
    void this.end(error);
  }

  /** @internal Called for each message it receives. */
  deliver(message: Message<T>): void {
    if (this.#closed) return;
    this.unsettled++;
    if (this.#waiting) {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      this.#yieldMessage(message, waiting.resolve);
      return;
    }
    this.#buffer.push(message);
    if (this.spec.handler && !this.#running) this.#pump();
  }

  /** @internal One of its messages was acked or nacked. */
  settle(): void {
    if (this.#closed) return;
    this.unsettled--;
    this.#owner.settled(this);
  }

  /** Resolves once the subscription has ended (unsubscribed, aborted, refused or client closed). */
  get ended(): Promise<void> {
    return this.#endedPromise;
  }

  async unsubscribe(): Promise<void> {
    await this.end(undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.unsubscribe();
  }

  [Symbol.asyncIterator](): AsyncIterator<Message<T>> {
    if (this.spec.handler)
      throw new GmqError("invalid_argument", "a subscription with a handler cannot be iterated");
    if (this.#iterating) throw new GmqError("invalid_argument", "a subscription can be iterated only once");
    this.#iterating = true;
    return {
      next: () => {
        this.#ackLastYielded();
        const message = this.#buffer.shift();
        if (message) return new Promise((resolve) => this.#yieldMessage(message, resolve));
        if (this.#closed) return this.#finished();
        return new Promise((resolve, reject) => {
          this.#waiting = { resolve, reject };
        });
      },
      return: async () => {
        await this.unsubscribe();
        return { done: true, value: undefined };
      },
    };
  }

  /** Ends it: by the app (`error` undefined: aborting rejects `ready` with `closed` or
   *  `aborted`) or because it failed for good. */
  async end(error: GmqError | undefined, why = new GmqError("closed", "unsubscribed")): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#markEnded();
    // Unhandled messages stay unacked, so the backend can redeliver them.
    this.#buffer.length = 0;
    this.#ackLastYielded();
    this.unsettled = 0;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting) {
      if (error) waiting.reject(error);
      else waiting.resolve({ done: true, value: undefined });
    }
    this.#failReady(error ?? why);
    this.#setState("closed", error);
    await this.#owner.removed(this);
  }

  #finished(): Promise<IteratorResult<Message<T>>> {
    return this.#failure ? Promise.reject(this.#failure) : Promise.resolve({ done: true, value: undefined });
  }

  #setState(to: SubscriptionState, error?: GmqError, recovered?: boolean): void {
    const from = this.#current;
    if (from === to || from === "closed") return;
    this.#current = to;
    this.emit("state", { from, to, ...(error && { error }), ...(recovered !== undefined && { recovered }) });
  }

  #yieldMessage(message: Message<T>, resolve: (result: IteratorResult<Message<T>>) => void): void {
    this.#lastYielded = message;
    resolve({ done: false, value: message });
  }

  #ackLastYielded(): void {
    const last = this.#lastYielded;
    this.#lastYielded = undefined;
    if (last) this.#autoAck(last);
  }

  #autoAck(message: Message<T>): void {
    if (this.spec.manualAck) return;
    const acked = message.ack();
    if (acked !== ACKED) acked.catch((error: unknown) => this.#owner.onError(GmqError.from(error)));
  }

  /**
   * Hands buffered messages to the handler, one at a time. Synchronous handlers run in a plain
   * loop (no promise per message); the first handler that returns a promise moves the rest of
   * the work to `resume`, which continues once it settles.
   */
  #pump(): void {
    this.#running = true;
    const handler = this.spec.handler!;
    for (let message = this.#buffer.shift(); message; message = this.#buffer.shift()) {
      let result: unknown;
      try {
        result = handler(message);
      } catch (error) {
        this.#handlerFailed(error);
      }
      if (result instanceof Promise) {
        void this.#resume(result, message);
        return;
      }
      // Auto mode acks even after a throw: redelivering a message that always throws would loop.
      this.#autoAck(message);
    }
    this.#running = false;
  }

  async #resume(result: Promise<unknown>, message: Message<T>): Promise<void> {
    try {
      await result;
    } catch (error) {
      this.#handlerFailed(error);
    }
    this.#autoAck(message);
    this.#pump();
  }

  #handlerFailed(error: unknown): void {
    this.#owner.onError(
      new GmqError("handler_error", `subscription handler for "${this.pattern}" threw: ${String(error)}`, {
        cause: error,
        reason: "HANDLER_ERROR",
      }),
    );
  }
}
