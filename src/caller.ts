import { type Codec, encodePayload } from "./codec.js";
import type { Connection, Link } from "./connection.js";
import { createDeadline } from "./deadline.js";
import { GmqError } from "./errors.js";
import type { Message } from "./message.js";
import type { CallOptions, HandleContext } from "./options.js";
import { ERROR_HEADER, encodeRemoteError, PendingCalls, requestTopic } from "./rpc.js";
import type { FlowControl, InboundMessage, OutboundMessage, StreamSink, Transport } from "./transport.js";

export interface CallerConfig {
  readonly transport: Transport;
  readonly connection: Connection;
  readonly nextId: () => string;
  readonly inboxTopic: string;
  readonly rpcPrefix: string;
  readonly callTimeoutMs: number;
  readonly onError: (error: GmqError) => void;
}

/** One call as `callOverPubSub` sends it. */
interface PubSubCall {
  readonly service: string;
  readonly method: string;
  readonly payload: Uint8Array;
  readonly codec: Codec<any>;
  readonly signal: AbortSignal | undefined;
  /** Undefined: bounded by `signal` alone (a deadline's). */
  readonly timeoutMs: number | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;
}

/** The reply inbox's subscription on one connection. */
interface Inbox {
  readonly link: Link;
  readonly ready: Promise<void>;
  /** Confirmed: calls on this connection need not wait for it. */
  subscribed: boolean;
}

/**
 * Both sides of `call`: natively where the transport has request/reply, otherwise over pub/sub
 * with a reply inbox (subscribed once per connection, on first use) and correlation ids.
 */
export class Caller {
  readonly #pending = new PendingCalls();
  #inbox: Inbox | undefined;
  readonly #config: CallerConfig;

  constructor(config: CallerConfig) {
    this.#config = config;
  }

  /** Calls still waiting for a reply. */
  get size(): number {
    return this.#pending.size;
  }

  /** `link` fixed: a call from the onConnect hook, before the client counts as connected. */
  call<R>(
    link: Link | undefined,
    service: string,
    method: string,
    args: unknown,
    options: CallOptions,
    codec: Codec<any>,
  ): Promise<R> {
    const payload = encodePayload(codec, args === undefined ? null : args);
    const ready = link ?? this.#config.connection.ready;
    // The common case, kept lean: connected, reply inbox in place, replies over pub/sub.
    if (
      ready &&
      this.#inbox?.link === ready &&
      this.#inbox.subscribed &&
      !this.#config.transport.capabilities.requestReply
    ) {
      return this.#callOverPubSub<R>(ready, {
        service,
        method,
        payload,
        codec,
        signal: options.signal,
        timeoutMs: options.timeoutMs ?? this.#config.callTimeoutMs,
        headers: options.headers,
      });
    }
    const codecName = args instanceof Uint8Array ? "bytes" : codec.name;
    return this.#callWhenReady<R>(link, service, method, payload, codecName, options, codec);
  }

  /**
   * A request published to the service's topic; the reply comes to our inbox. No deadline object:
   * the pending call holds its own timer and signal listener, and a lost connection fails it
   * through `failAll`.
   */
  #callOverPubSub<R>(link: Link, request: PubSubCall): Promise<R> {
    const { service, method, payload, codec, signal, timeoutMs, headers } = request;
    const correlationId = this.#config.nextId();
    const result = this.#pending.expect<R>(correlationId, { timeoutMs, signal, service, method, codec });
    const message: { -readonly [K in keyof OutboundMessage]: OutboundMessage[K] } = {
      topic: requestTopic(this.#config.rpcPrefix, service, method),
      payload,
      id: correlationId,
      qos: 1,
      replyTo: this.#config.inboxTopic,
      correlationId,
    };
    if (headers) message.headers = headers;
    this.#config.transport
      .publish(message, { signal: link.signal })
      .catch((error: unknown) => this.#pending.fail(correlationId, GmqError.from(error, "remote")));
    return result;
  }

  /** Everything else: waits for the connection and the inbox within the call's deadline. */
  async #callWhenReady<R>(
    link: Link | undefined,
    service: string,
    method: string,
    payload: Uint8Array,
    codecName: string,
    options: CallOptions,
    codec: Codec<any>,
  ): Promise<R> {
    const { transport, connection, callTimeoutMs } = this.#config;
    // A request-only transport known to be unreachable fails at once, never at the deadline.
    const failFast = transport.capabilities.connection === "request";
    const timeoutMs = options.timeoutMs ?? callTimeoutMs;
    const deadline = createDeadline({ signal: options.signal, timeoutMs, what: `call ${service}.${method}` });
    const work = async (): Promise<R> => {
      const ready = link ?? (await connection.waitReady(deadline.signal, failFast));
      deadline.follow(ready.signal);
      const { signal } = deadline;
      if (transport.capabilities.requestReply) {
        const headers = options.headers && { headers: options.headers };
        const response = await transport.call!({
          service,
          method,
          payload,
          codec: codecName,
          timeoutMs,
          signal,
          ...headers,
        });
        return codec.decode(response.payload) as R;
      }
      await this.#ensureInbox(ready);
      // The deadline, already watching the caller's signal and the clock, bounds the reply too.
      return await this.#callOverPubSub<R>(ready, {
        service,
        method,
        payload,
        codec,
        signal,
        timeoutMs: undefined,
        headers: options.headers,
      });
    };
    try {
      deadline.throwIfDone();
      return await Promise.race([work(), deadline.done]);
    } catch (error) {
      throw GmqError.from(error, "remote");
    } finally {
      deadline.dispose();
    }
  }

  /** A new connection: resubscribe the inbox if calls used it before. */
  async restore(link: Link): Promise<void> {
    if (this.#inbox) await this.#ensureInbox(link);
  }

  /** True when the message was a reply to one of our calls (consumed). */
  receive(message: InboundMessage): boolean {
    if (message.topic !== this.#config.inboxTopic) return false;
    this.#pending.settle(message);
    return true;
  }

  /** No reply can arrive any more (connection lost, client closed). */
  failAll(error: GmqError): void {
    this.#pending.failAll(error);
  }

  /**
   * Runs a handler for one request and publishes its result or error to the reply topic. A
   * handler that returns a plain value is answered in the same turn (no promise in between), so
   * the reply can leave in the same write as the request's acknowledgement.
   */
  answer<A, R>(
    message: Message<A>,
    fn: (args: A, context: HandleContext) => R | Promise<R>,
    codec: Codec<any>,
  ): void {
    if (!message.replyTo) return; // nobody asked for an answer
    let result: R | Promise<R>;
    try {
      result = fn(message.data, { id: message.id, headers: message.headers, message });
    } catch (error) {
      this.#reply(message, encodeRemoteError(error), true);
      return;
    }
    if (!isThenable(result)) {
      this.#replyWith(message, result, codec);
      return;
    }
    Promise.resolve(result).then(
      (value) => this.#replyWith(message, value, codec),
      (error: unknown) => this.#reply(message, encodeRemoteError(error), true),
    );
  }

  #replyWith(message: Message<unknown>, result: unknown, codec: Codec<any>): void {
    let payload: Uint8Array;
    try {
      payload = encodePayload(codec, result === undefined ? null : result);
    } catch (error) {
      this.#reply(message, encodeRemoteError(error), true);
      return;
    }
    this.#reply(message, payload, false);
  }

  #reply(message: Message<unknown>, payload: Uint8Array, failed: boolean): void {
    // Not `ready`: a request can arrive while the connection is still restoring subscriptions.
    const link = this.#config.connection.open;
    if (!link) return; // the caller fails with `disconnected`
    const reply = {
      topic: message.replyTo!,
      payload,
      id: this.#config.nextId(),
      qos: 1 as const,
      ...(message.correlationId !== undefined && { correlationId: message.correlationId }),
      ...(failed && { headers: { [ERROR_HEADER]: "1" } }),
    };
    this.#config.transport.publish(reply, { signal: link.signal }).catch((error: unknown) => {
      // A reply cut off by the connection ending (the app closing, the link lost) is not news:
      // the caller hears `disconnected` or its timeout.
      if (this.#config.connection.open === link) this.#config.onError(GmqError.from(error));
    });
  }

  #ensureInbox(link: Link): Promise<void> {
    if (this.#inbox?.link !== link) {
      const request = { pattern: this.#config.inboxTopic, qos: 1 as const, manualAck: false };
      const ready = this.#config.transport.subscribe!(request, {
        signal: link.signal,
        sink: IGNORED,
        flow: UNBOUNDED,
      }).then(() => {});
      const inbox: Inbox = { link, ready, subscribed: false };
      ready.then(
        () => {
          inbox.subscribed = true;
        },
        () => {},
      );
      this.#inbox = inbox;
    }
    return this.#inbox.ready;
  }
}

/** The inbox is a routed subscription: its messages come on the link, matched by topic. */
const IGNORED: StreamSink = { message() {}, end() {} };
const UNBOUNDED: FlowControl = { credit: Number.MAX_SAFE_INTEGER, ready: async () => {} };

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === "function"
  );
}
