import { type AbortWatcher, unwatchAbort, watchAbort } from "./abort-watch.js";
import { GmqError } from "./errors.js";
import type { InboundMessage } from "./transport.js";

/** Header that marks an RPC reply as an error; the payload is then the error as JSON. */
export const ERROR_HEADER = "gmq-error";
export const DEFAULT_RPC_PREFIX = "_gmq/rpc";
export const INBOX_PREFIX = "_gmq/inbox";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function validateName(value: unknown, field: string): asserts value is string {
  if (typeof value !== "string" || value.length === 0)
    throw GmqError.invalid(field, "must be a non-empty string");
  if (/[/+#]/.test(value) || value.includes("\u0000"))
    throw GmqError.invalid(field, `must not contain "/", "+", "#" or NUL: "${value}"`);
}

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
  /** What the call is called in errors, e.g. `call Chat.say`. */
  readonly what: string;
}

/** One call waiting for its reply, with its own timer and (when given) the caller's signal. */
class PendingCall implements AbortWatcher {
  private readonly timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly calls: Map<string, PendingCall>,
    private readonly correlationId: string,
    private readonly options: ExpectOptions,
    readonly resolve: (message: InboundMessage) => void,
    private readonly rejectCall: (error: GmqError) => void,
  ) {
    const { timeoutMs, what, signal } = options;
    if (timeoutMs !== undefined) {
      this.timer = setTimeout(
        () => this.reject(new GmqError("timeout", `${what} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
    }
    if (signal) watchAbort(signal, this);
  }

  aborted(signal: AbortSignal): void {
    this.reject(abortError(signal, this.options.what));
  }

  reject(error: GmqError): void {
    this.end();
    this.rejectCall(error);
  }

  /** Forgets the call: no reply is awaited any more. */
  end(): void {
    this.calls.delete(this.correlationId);
    clearTimeout(this.timer);
    if (this.options.signal) unwatchAbort(this.options.signal, this);
  }
}

/** Matches replies to outstanding calls by correlation id. */
export class PendingCalls {
  private readonly pending = new Map<string, PendingCall>();

  get size(): number {
    return this.pending.size;
  }

  /** Registers a call; the promise settles with its reply, or fails at its timeout or abort. */
  expect(correlationId: string, options: ExpectOptions): Promise<InboundMessage> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal, options.what));
    return new Promise<InboundMessage>((resolve, reject) => {
      this.pending.set(correlationId, new PendingCall(this.pending, correlationId, options, resolve, reject));
    });
  }

  /** True when the message was a reply (consumed). */
  settle(message: InboundMessage): boolean {
    const id = message.correlationId;
    if (id === undefined) return false;
    const call = this.pending.get(id);
    if (!call) return true; // a late or duplicate reply: nobody waits any more
    call.end();
    call.resolve(message);
    return true;
  }

  /** The request could not be sent. */
  fail(correlationId: string, error: GmqError): void {
    this.pending.get(correlationId)?.reject(error);
  }

  /** The connection dropped: no reply can arrive on the new one. */
  failAll(error: GmqError): void {
    for (const call of [...this.pending.values()]) call.reject(error);
  }
}

function abortError(signal: AbortSignal, what: string): GmqError {
  const reason = signal.reason;
  return reason instanceof GmqError ? reason : new GmqError("aborted", `${what} aborted`, { cause: reason });
}

export function isErrorReply(message: InboundMessage): boolean {
  return message.headers?.[ERROR_HEADER] !== undefined;
}
