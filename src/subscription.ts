import type { Codec } from "./codec.js";
import { GmqError } from "./errors.js";
import { ACKED, type Message } from "./message.js";
import type { QoS } from "./transport.js";

export type MessageHandler<T> = (message: Message<T>) => unknown;

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
}

/**
 * A live subscription: a callback target or an async iterator (not both). Messages are handled
 * one at a time, in arrival order. In auto-ack mode a message is acked when its handler settles
 * or, when iterating, when the next one is requested.
 */
export class Subscription<T = unknown> implements AsyncIterable<Message<T>> {
  readonly pattern: string;
  /** Resolves once the backend confirmed the subscription (first time). */
  readonly ready: Promise<void>;
  /** @internal The payload decoder handed to each delivered message (one closure, not one each). */
  readonly decode: (bytes: Uint8Array) => T;
  private readonly buffer: Message<T>[] = [];
  private waiting: ((result: IteratorResult<Message<T>>) => void) | undefined;
  private iterating = false;
  private running = false;
  private closed = false;
  private lastYielded: Message<T> | undefined;
  private markReady!: () => void;
  private markEnded!: () => void;
  private readonly endedPromise = new Promise<void>((resolve) => {
    this.markEnded = resolve;
  });
  private failReady!: (error: GmqError) => void;

  constructor(
    readonly spec: SubscriptionSpec<T>,
    private readonly onError: (error: GmqError) => void,
    private readonly onUnsubscribe: (subscription: Subscription<T>) => Promise<void>,
  ) {
    this.pattern = spec.pattern;
    const codec = spec.codec;
    this.decode = (bytes) => codec.decode(bytes);
    this.ready = new Promise<void>((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    this.ready.catch(() => {});
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal */
  confirmed(): void {
    this.markReady();
  }

  /** @internal */
  refused(error: GmqError): void {
    this.failReady(error);
  }

  /** @internal Called by the router for each matching message. */
  deliver(message: Message<T>): void {
    if (this.closed) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = undefined;
      this.yieldMessage(message, resolve);
      return;
    }
    this.buffer.push(message);
    if (this.spec.handler && !this.running) this.pump();
  }

  /** Resolves once the subscription has ended (unsubscribed, aborted, or the client closed). */
  get ended(): Promise<void> {
    return this.endedPromise;
  }

  async unsubscribe(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.markEnded();
    // Unhandled messages stay unacked, so the backend can redeliver them.
    this.buffer.length = 0;
    this.ackLastYielded();
    this.waiting?.({ done: true, value: undefined });
    this.waiting = undefined;
    this.failReady(new GmqError("closed", "unsubscribed"));
    await this.onUnsubscribe(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.unsubscribe();
  }

  [Symbol.asyncIterator](): AsyncIterator<Message<T>> {
    if (this.spec.handler)
      throw new GmqError("invalid_argument", "a subscription with a handler cannot be iterated");
    if (this.iterating) throw new GmqError("invalid_argument", "a subscription can be iterated only once");
    this.iterating = true;
    return {
      next: () => {
        this.ackLastYielded();
        const message = this.buffer.shift();
        if (message) return new Promise((resolve) => this.yieldMessage(message, resolve));
        if (this.closed) return Promise.resolve({ done: true, value: undefined });
        return new Promise((resolve) => {
          this.waiting = resolve;
        });
      },
      return: async () => {
        await this.unsubscribe();
        return { done: true, value: undefined };
      },
    };
  }

  private yieldMessage(message: Message<T>, resolve: (result: IteratorResult<Message<T>>) => void): void {
    this.lastYielded = message;
    resolve({ done: false, value: message });
  }

  private ackLastYielded(): void {
    const last = this.lastYielded;
    this.lastYielded = undefined;
    if (last) this.autoAck(last);
  }

  private autoAck(message: Message<T>): void {
    if (this.spec.manualAck) return;
    const acked = message.ack();
    if (acked !== ACKED) acked.catch((error: unknown) => this.onError(GmqError.from(error)));
  }

  /**
   * Hands buffered messages to the handler, one at a time. Synchronous handlers run in a plain
   * loop (no promise per message); the first handler that returns a promise moves the rest of
   * the work to `resume`, which continues once it settles.
   */
  private pump(): void {
    this.running = true;
    const handler = this.spec.handler!;
    for (let message = this.buffer.shift(); message; message = this.buffer.shift()) {
      let result: unknown;
      try {
        result = handler(message);
      } catch (error) {
        this.handlerFailed(error);
      }
      if (result instanceof Promise) {
        void this.resume(result, message);
        return;
      }
      // Auto mode acks even after a throw: redelivering a message that always throws would loop.
      this.autoAck(message);
    }
    this.running = false;
  }

  private async resume(result: Promise<unknown>, message: Message<T>): Promise<void> {
    try {
      await result;
    } catch (error) {
      this.handlerFailed(error);
    }
    this.autoAck(message);
    this.pump();
  }

  private handlerFailed(error: unknown): void {
    this.onError(
      new GmqError("remote", `subscription handler for "${this.pattern}" threw: ${String(error)}`, {
        cause: error,
        reason: "HANDLER_ERROR",
      }),
    );
  }
}
