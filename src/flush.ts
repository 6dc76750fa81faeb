import type { Link } from "./connection.js";
import { createDeadline } from "./deadline.js";
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
    const { record } = entry;
    const message: OutboundMessage = {
      topic: record.topic,
      payload: record.payload,
      id: record.id,
      qos: record.qos,
      ...(record.headers && { headers: record.headers }),
      ...(record.retain && { retain: true }),
      ...(record.expiresAt !== undefined && { expiresAt: record.expiresAt }),
    };
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
