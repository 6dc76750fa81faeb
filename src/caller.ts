import { type AbortWatcher, abortError, unwatchAbort, watchAbort } from "./abort-watch.js";
import { type Codec, encodePayload } from "./codec.js";
import type { Connection, Link } from "./connection.js";
import { GmqError } from "./errors.js";
import type { Message } from "./message.js";
import type { CallOptions, HandleContext } from "./options.js";
import { decodeRemoteError, ERROR_HEADER, encodeRemoteError, requestTopic } from "./rpc.js";
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

/** The reply inbox's subscription on one connection. */
interface Inbox {
  readonly link: Link;
  readonly ready: Promise<void>;
  /** Confirmed: calls on this connection need not wait for it. */
  subscribed: boolean;
}

/** A call's timer fires: a plain function with the call as argument, no closure per call. */
function expire(call: PendingCall, ms: number): void {
  call.fail(new GmqError("timeout", `${call.what} timed out after ${ms} ms`));
}

/**
 * One call until it settles: its timer, the caller's signal, and, made only when something waits
 * on the call's behalf (the connection, a native request), a signal that aborts if it fails.
 * Every call is in `calls` until then, so a lost connection fails them all.
 */
class PendingCall implements AbortWatcher {
  declare readonly promise: Promise<unknown>; // set by the constructor
  #resolve!: (value: unknown) => void;
  #reject!: (error: GmqError) => void;
  readonly #timer: ReturnType<typeof setTimeout>;
  #controller: AbortController | undefined;

  constructor(
    readonly calls: Map<string, PendingCall>,
    readonly id: string,
    readonly what: string,
    readonly codec: Codec<unknown>,
    readonly signal: AbortSignal | undefined,
    timeoutMs: number,
    /** A call on a link still being set up (onConnect) fails with it; later ones by failAll. */
    readonly link: Link | undefined,
  ) {
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    calls.set(id, this);
    this.#timer = setTimeout(expire, timeoutMs, this, timeoutMs);
    if (signal) watchAbort(signal, this);
    if (link) watchAbort(link.signal, this);
  }

  /** Aborts, with the error, once the call has failed. */
  get settled(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  /** The caller's signal aborted, or the link was lost. */
  aborted(signal: AbortSignal): void {
    this.fail(
      signal === this.signal ? abortError(signal, this.what) : GmqError.from(signal.reason, "disconnected"),
    );
  }

  /** The reply came: the call resolves with its decoded payload, or fails with the remote error. */
  answer(message: InboundMessage): void {
    if (message.headers?.[ERROR_HEADER] !== undefined) this.fail(decodeRemoteError(message.payload));
    else this.decode(message.payload);
  }

  decode(payload: Uint8Array): void {
    let result: unknown;
    try {
      result = this.codec.decode(payload);
    } catch (error) {
      this.fail(GmqError.from(error, "remote"));
      return;
    }
    if (this.#end()) this.#resolve(result);
  }

  fail(error: GmqError): void {
    if (this.#end(error)) this.#reject(error);
  }

  /**
   * Forgets the call (no answer is awaited any more); false if it had settled already. A failed
   * call aborts `settled` with its error, so whatever works on its behalf stops. An answered one
   * does not: its work is done, and an abort without a reason costs a DOMException per call.
   */
  #end(error?: GmqError): boolean {
    if (!this.calls.delete(this.id)) return false;
    clearTimeout(this.#timer);
    if (this.signal) unwatchAbort(this.signal, this);
    if (this.link) unwatchAbort(this.link.signal, this);
    if (error) this.#controller?.abort(error);
    return true;
  }
}

/**
 * Both sides of `call`: natively where the transport has request/reply, otherwise over pub/sub
 * with a reply inbox (subscribed once per connection, on first use) and correlation ids.
 */
export class Caller {
  readonly #pending = new Map<string, PendingCall>();
  readonly #config: CallerConfig;
  #inbox: Inbox | undefined;

  constructor(config: CallerConfig) {
    this.#config = config;
  }

  /** Calls still waiting for an answer. */
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
    const what = `call ${service}.${method}`;
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortError(signal, what));
    const config = this.#config;
    const timeoutMs = options.timeoutMs ?? config.callTimeoutMs;
    if (link?.signal.aborted) return Promise.reject(GmqError.from(link.signal.reason, "disconnected"));
    const call = new PendingCall(this.#pending, config.nextId(), what, codec, signal, timeoutMs, link);
    const ready = link ?? config.connection.ready;
    const native = config.transport.capabilities.requestReply;
    // The common case, kept lean: connected, reply inbox in place, replies over pub/sub.
    if (ready && !native && this.#inbox?.link === ready && this.#inbox.subscribed) {
      this.#request(ready, call, service, method, payload, options.headers);
    } else {
      const codecName = args instanceof Uint8Array ? "bytes" : codec.name;
      void this.#whenReady(link, call, service, method, payload, options.headers, codecName, timeoutMs);
    }
    return call.promise as Promise<R>;
  }

  /** Waits for the connection (and the inbox) on the call's behalf, then sends it. */
  async #whenReady(
    link: Link | undefined,
    call: PendingCall,
    service: string,
    method: string,
    payload: Uint8Array,
    headers: Readonly<Record<string, string>> | undefined,
    codec: string,
    timeoutMs: number,
  ): Promise<void> {
    const { transport, connection } = this.#config;
    try {
      // A request-only transport known to be unreachable fails at once, never at the deadline.
      const failFast = transport.capabilities.connection === "request";
      const ready = link ?? (await connection.waitReady(call.settled, failFast));
      if (transport.capabilities.requestReply) {
        const request = { service, method, payload, codec, timeoutMs, signal: call.settled };
        const response = await transport.call!(headers ? { ...request, headers } : request);
        call.decode(response.payload);
        return;
      }
      await this.#ensureInbox(ready);
      this.#request(ready, call, service, method, payload, headers);
    } catch (error) {
      call.fail(GmqError.from(error, "remote"));
    }
  }

  /** A request published to the service's topic; the reply comes to our inbox. */
  #request(
    link: Link,
    call: PendingCall,
    service: string,
    method: string,
    payload: Uint8Array,
    headers: Readonly<Record<string, string>> | undefined,
  ): void {
    const config = this.#config;
    const message: { -readonly [K in keyof OutboundMessage]: OutboundMessage[K] } = {
      topic: requestTopic(config.rpcPrefix, service, method),
      payload,
      id: call.id,
      qos: 1,
      replyTo: config.inboxTopic,
      correlationId: call.id,
    };
    if (headers) message.headers = headers;
    config.transport
      .publish(message, link)
      .catch((error: unknown) => call.fail(GmqError.from(error, "remote")));
  }

  /** A new connection: resubscribe the inbox if calls used it before. */
  async restore(link: Link): Promise<void> {
    if (this.#inbox) await this.#ensureInbox(link);
  }

  /** True when the message was a reply to one of our calls (consumed; a late or duplicate one
   *  finds nobody waiting any more). */
  receive(message: InboundMessage): boolean {
    if (message.topic !== this.#config.inboxTopic) return false;
    const id = message.correlationId;
    if (id !== undefined) this.#pending.get(id)?.answer(message);
    return true;
  }

  /** No answer can arrive any more (connection lost, client closed). */
  failAll(error: GmqError): void {
    for (const call of [...this.#pending.values()]) call.fail(error);
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
    const config = this.#config;
    const link = config.connection.open;
    if (!link) return; // the caller fails with `disconnected`
    const reply = {
      topic: message.replyTo!,
      payload,
      id: config.nextId(),
      qos: 1 as const,
      ...(message.correlationId !== undefined && { correlationId: message.correlationId }),
      ...(failed && { headers: { [ERROR_HEADER]: "1" } }),
    };
    config.transport.publish(reply, link).catch((error: unknown) => {
      // A reply cut off by the connection ending (the app closing, the link lost) is not news:
      // the caller hears `disconnected` or its timeout.
      if (config.connection.open === link) config.onError(GmqError.from(error));
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
