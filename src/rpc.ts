import { type AbortWatcher, abortError, unwatchAbort, watchAbort } from "./abort-watch.js";
import type { Codec } from "./codec.js";
import { GmqError } from "./errors.js";
import type { InboundMessage } from "./transport.js";

/** Header that marks an RPC reply as an error; the payload is then the error as JSON. */
export const ERROR_HEADER = "gmq-error";
export const DEFAULT_RPC_PREFIX = "_gmq/rpc";
export const INBOX_PREFIX = "_gmq/inbox";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function requestTopic(prefix: string, service: string, method: string): string {
  return `${prefix}/${service}/${method}`;
}

/** The payload of an error reply. */
export function encodeRemoteError(error: unknown): Uint8Array {
  const failure = GmqError.from(error, "remote");
  // Keep the responder's own code as the reason so the caller can still tell kinds apart.
  const body = {
    message: failure.message,
    reason: failure.reason ?? (failure.code === "remote" ? undefined : failure.code),
    details: failure.details,
  };
  return encoder.encode(JSON.stringify(body));
}

export function decodeRemoteError(payload: Uint8Array): GmqError {
  try {
    const body = JSON.parse(decoder.decode(payload)) as {
      message?: unknown;
      reason?: unknown;
      details?: unknown;
    };
    const reason = typeof body.reason === "string" ? body.reason : undefined;
    return new GmqError("remote", typeof body.message === "string" ? body.message : "remote error", {
      ...(reason !== undefined && { reason }),
      details: body.details,
    });
  } catch (error) {
    return new GmqError("protocol", "malformed error reply", { cause: error });
  }
}

export interface ExpectOptions {
  /** Without it the call waits until its signal aborts or the connection is lost. */
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Named in errors (`call Chat.say timed out…`). */
  readonly service: string;
  readonly method: string;
  /** Decodes a successful reply's payload into the call's result. */
  readonly codec: Codec<unknown>;
}

/** A call's timer fires: a plain function with the call as argument, no closure per call. */
function expire(call: PendingCall): void {
  call.reject(new GmqError("timeout", `${call.what} timed out after ${call.options.timeoutMs} ms`));
}

/** One call waiting for its reply, with its own timer and (when given) the caller's signal. */
class PendingCall implements AbortWatcher {
  readonly #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #calls: Map<string, PendingCall>;
  readonly #correlationId: string;
  readonly #resolveCall: (result: unknown) => void;
  readonly #rejectCall: (error: GmqError) => void;

  constructor(
    calls: Map<string, PendingCall>,
    correlationId: string,
    readonly options: ExpectOptions,
    resolveCall: (result: unknown) => void,
    rejectCall: (error: GmqError) => void,
  ) {
    this.#calls = calls;
    this.#correlationId = correlationId;
    this.#resolveCall = resolveCall;
    this.#rejectCall = rejectCall;
    const { timeoutMs, signal } = options;
    if (timeoutMs !== undefined) this.#timer = setTimeout(expire, timeoutMs, this);
    if (signal) watchAbort(signal, this);
  }

  get what(): string {
    return `call ${this.options.service}.${this.options.method}`;
  }

  aborted(signal: AbortSignal): void {
    this.reject(abortError(signal, this.what));
  }

  /** The reply came: the call resolves with its decoded payload, or fails with the remote error. */
  answer(message: InboundMessage): void {
    this.#end();
    if (isErrorReply(message)) {
      this.#rejectCall(decodeRemoteError(message.payload));
      return;
    }
    let result: unknown;
    try {
      result = this.options.codec.decode(message.payload);
    } catch (error) {
      this.#rejectCall(GmqError.from(error, "remote"));
      return;
    }
    this.#resolveCall(result);
  }

  reject(error: GmqError): void {
    this.#end();
    this.#rejectCall(error);
  }

  /** Forgets the call: no reply is awaited any more. */
  #end(): void {
    this.#calls.delete(this.#correlationId);
    clearTimeout(this.#timer);
    if (this.options.signal) unwatchAbort(this.options.signal, this);
  }
}

/** Matches replies to outstanding calls by correlation id. */
export class PendingCalls {
  readonly #pending = new Map<string, PendingCall>();

  get size(): number {
    return this.#pending.size;
  }

  /** Registers a call; the promise settles with its decoded reply, or fails with the remote
   *  error, at its timeout or abort. */
  expect<R>(correlationId: string, options: ExpectOptions): Promise<R> {
    const signal = options.signal;
    if (signal?.aborted) {
      return Promise.reject(abortError(signal, `call ${options.service}.${options.method}`));
    }
    return new Promise<R>((resolve, reject) => {
      const call = new PendingCall(
        this.#pending,
        correlationId,
        options,
        resolve as (result: unknown) => void,
        reject,
      );
      this.#pending.set(correlationId, call);
    });
  }

  /** True when the message was a reply (consumed). */
  settle(message: InboundMessage): boolean {
    const id = message.correlationId;
    if (id === undefined) return false;
    // A late or duplicate reply finds nobody waiting any more; it is consumed all the same.
    this.#pending.get(id)?.answer(message);
    return true;
  }

  /** The request could not be sent. */
  fail(correlationId: string, error: GmqError): void {
    this.#pending.get(correlationId)?.reject(error);
  }

  /** The connection dropped: no reply can arrive on the new one. */
  failAll(error: GmqError): void {
    for (const call of [...this.#pending.values()]) call.reject(error);
  }
}

export function isErrorReply(message: InboundMessage): boolean {
  return message.headers?.[ERROR_HEADER] !== undefined;
}
