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

interface PendingCall {
  resolve(message: InboundMessage): void;
  reject(error: GmqError): void;
}

/** Matches replies to outstanding calls by correlation id. */
export class PendingCalls {
  private readonly pending = new Map<string, PendingCall>();

  get size(): number {
    return this.pending.size;
  }

  /** Registers a call; the returned promise settles with its reply. `cancel` forgets it. */
  expect(correlationId: string): { reply: Promise<InboundMessage>; cancel(): void } {
    let entry!: PendingCall;
    const reply = new Promise<InboundMessage>((resolve, reject) => {
      entry = { resolve, reject };
    });
    reply.catch(() => {});
    this.pending.set(correlationId, entry);
    return { reply, cancel: () => this.pending.delete(correlationId) };
  }

  /** True when the message was a reply (consumed). */
  settle(message: InboundMessage): boolean {
    const id = message.correlationId;
    if (id === undefined) return false;
    const entry = this.pending.get(id);
    if (!entry) return true; // a late or duplicate reply: nobody waits any more
    this.pending.delete(id);
    entry.resolve(message);
    return true;
  }

  /** The connection dropped: no reply can arrive on the new one. */
  failAll(error: GmqError): void {
    for (const entry of this.pending.values()) entry.reject(error);
    this.pending.clear();
  }
}

export function isErrorReply(message: InboundMessage): boolean {
  return message.headers?.[ERROR_HEADER] !== undefined;
}
