import type { Link } from "./connection.js";
import { GmqError } from "./errors.js";
import type { Outbox } from "./outbox.js";
import type { OutboundMessage, Transport } from "./transport.js";

/** Transient send failures: the record goes back to the queue and is retried. */
const RETRYABLE = new Set(["disconnected", "offline", "timeout", "aborted", "closed"]);

/**
 * Hands queued records to the transport, oldest first, keeping at most `maxInFlight` awaiting
 * the backend. Each settled send calls `again` so the next records follow. A retryable failure
 * on a link that still looks up calls `linkBroken` instead: the link is treated as lost, and
 * everything in flight returns to the queue once, in order (no hot retry loop on a bad link).
 */
export function flushOutbox(
  outbox: Outbox,
  transport: Transport,
  link: Link,
  maxInFlight: number,
  again: () => void,
  linkBroken: (error: GmqError) => void,
): void {
  while (outbox.inFlight < maxInFlight) {
    const entry = outbox.takeNext(Date.now());
    if (!entry) return;
    // The record is the message: it has every field a transport reads (the rest, createdAt and
    // key, are the outbox's own), and not copying it saves an object per publish.
    const message: OutboundMessage = entry.record;
    transport.publish(message, { signal: link.signal }).then(
      () => {
        outbox.complete(entry);
        again();
      },
      (cause: unknown) => {
        const error = GmqError.from(cause, "disconnected");
        if (!RETRYABLE.has(error.code)) {
          outbox.reject(entry, error);
          again();
        } else if (!link.signal.aborted) {
          linkBroken(error);
        }
      },
    );
  }
}
