import type { Link } from "./connection.js";
import { createDeadline } from "./deadline.js";
import { GmqError } from "./errors.js";
import type { PublishOptions, PublishResult } from "./options.js";
import type { DroppedEvent, Outbox, OutboxEntry } from "./outbox.js";
import type { OutboxRecord } from "./store.js";
import type { OutboundMessage, Transport } from "./transport.js";

/** What an at-least-once publish needs from the client. */
export interface OutboxPublisher {
  readonly outbox: Outbox;
  readonly durable: boolean;
  /** Connected, and this context is the one that flushes. */
  canSend(): boolean;
  /** A record reached the store: wake the flusher (and other tabs). */
  persisted(): void;
}

/**
 * Enqueues one record and settles when it is safe: `sent` once the backend accepted it, `queued`
 * once it is in the outbox and cannot be sent now. The caller's signal keeps working after that:
 * aborting withdraws the record as long as it has not been handed to the transport.
 */
export function publishThroughOutbox(
  publisher: OutboxPublisher,
  record: OutboxRecord,
  options: Pick<PublishOptions, "signal" | "timeoutMs">,
): Promise<PublishResult> {
  const { outbox, durable } = publisher;
  const { signal, timeoutMs } = options;
  if (signal?.aborted)
    return Promise.reject(GmqError.from(signal.reason ?? new GmqError("aborted", "publish aborted")));
  return new Promise<PublishResult>((resolve, reject) => {
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      outcome();
    };
    const onAbort = (): void => {
      const reason = signal?.reason;
      const error =
        reason instanceof GmqError ? reason : new GmqError("aborted", "publish aborted", { cause: reason });
      if (!outbox.withdraw(entry, "aborted", error)) settle(() => reject(error));
    };
    const detach = (): void => signal?.removeEventListener("abort", onAbort);
    let entry!: OutboxEntry;
    entry = outbox.enqueue(record, {
      persisted: () => {
        if (!publisher.canSend()) settle(() => resolve({ id: record.id, status: "queued", durable }));
        publisher.persisted();
      },
      sent: () => {
        detach();
        settle(() => resolve({ id: record.id, status: "sent", durable }));
      },
      dropped: (event: DroppedEvent) => {
        detach();
        if (event.reason === "replaced")
          settle(() => resolve({ id: record.id, status: "replaced", durable }));
        else settle(() => reject(event.error ?? dropError(event)));
      },
    });
    signal?.addEventListener("abort", onAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        const error = new GmqError("timeout", `publish timed out after ${timeoutMs} ms`);
        if (!outbox.withdraw(entry, "timeout", error)) settle(() => reject(error));
      }, timeoutMs);
    }
  });
}

function dropError(event: DroppedEvent): GmqError {
  switch (event.reason) {
    case "expired":
      return new GmqError("timeout", "message expired before it could be sent", { reason: "EXPIRED" });
    case "overflow":
      return new GmqError("busy", "dropped: the outbox overflowed", { reason: "OUTBOX_FULL" });
    case "closed":
      return new GmqError("closed", "client closed before the message was sent");
    default:
      return new GmqError("aborted", `dropped (${event.reason})`);
  }
}

/** QoS 0: sent now or never; it never touches the outbox. */
export async function publishAtMostOnce(
  transport: Transport,
  link: Link | undefined,
  message: OutboundMessage,
  options: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined },
): Promise<void> {
  if (!link) throw new GmqError("offline", "not connected, and qos 0 messages are never queued");
  if (options.signal === undefined && options.timeoutMs === undefined) {
    // The common case, kept lean: nothing to race but the connection itself.
    return transport.publish(message, { signal: link.signal }).catch((error: unknown) => {
      throw GmqError.from(error, "disconnected");
    });
  }
  const deadline = createDeadline({ ...options, what: "publish" });
  try {
    deadline.follow(link.signal);
    await Promise.race([transport.publish(message, { signal: deadline.signal }), deadline.done]);
  } catch (error) {
    throw GmqError.from(error, "disconnected");
  } finally {
    deadline.dispose();
  }
}
