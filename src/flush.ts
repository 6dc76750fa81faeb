import type { Link } from "./connection.js";
import { GmqError } from "./errors.js";
import type { Outbox, OutboxEntry } from "./outbox.js";
import type { OutboxRecord } from "./store.js";
import type { OutboundMessage, Transport } from "./transport.js";

/** Transient send failures: the record goes back to the queue and is retried. */
const RETRYABLE = new Set(["disconnected", "timeout", "aborted", "closed", "busy"]);

export interface FlushContext {
  readonly outbox: Outbox;
  readonly transport: Transport;
  /** Records awaiting the backend at once (a batch counts as one). */
  readonly maxInFlight: number;
  /** Called after each settled send, so the next records follow. */
  again(): void;
  /** A retryable failure on a link that still looks up: treat it as lost. */
  linkBroken(error: GmqError): void;
}

/**
 * Hands queued records to the transport, oldest first. One at a time up to `maxInFlight`, or, on
 * a transport with `publishBatch`, as runs of up to `maxBatch` records, one run in flight at a
 * time. A retryable failure on a link that still looks up calls `linkBroken`: the link is treated
 * as lost, and everything in flight returns to the queue once, in order (no hot retry loop on a
 * bad link). Any other failure gives that record up, with a `dropped` event.
 */
export function flushOutbox(context: FlushContext, link: Link): void {
  const { outbox } = context;
  const maxBatch = context.transport.capabilities.maxBatch ?? 0;
  if (maxBatch > 1 && context.transport.publishBatch) {
    if (outbox.inFlight === 0) sendBatch(context, link, maxBatch);
    return;
  }
  while (outbox.inFlight < context.maxInFlight) {
    const entry = outbox.takeNext(Date.now());
    if (!entry) return;
    // The link is the operation's options: it has the signal, and passing it costs no object.
    context.transport.publish(toMessage(entry.record), link).then(
      () => {
        outbox.complete(entry);
        context.again();
      },
      (cause: unknown) => failed(context, link, entry, cause),
    );
  }
}

function sendBatch(context: FlushContext, link: Link, maxBatch: number): void {
  const { outbox } = context;
  const entries: OutboxEntry[] = [];
  const now = Date.now();
  for (
    let entry = outbox.takeNext(now);
    entry;
    entry = entries.length < maxBatch ? outbox.takeNext(now) : undefined
  ) {
    entries.push(entry);
  }
  if (entries.length === 0) return;
  const messages = entries.map((entry) => toMessage(entry.record));
  context.transport.publishBatch!(messages, link).then(
    (results) => {
      let broken: GmqError | undefined;
      entries.forEach((entry, i) => {
        const result =
          i < results.length ? results[i] : new GmqError("protocol", "no result for this message");
        if (result === undefined) {
          outbox.complete(entry);
          return;
        }
        const error = GmqError.from(result, "disconnected");
        if (RETRYABLE.has(error.code)) broken ??= error;
        else outbox.reject(entry, error);
      });
      if (broken && !link.signal.aborted) context.linkBroken(broken);
      else context.again();
    },
    (cause: unknown) => {
      for (const entry of entries) failed(context, link, entry, cause);
    },
  );
}

function failed(context: FlushContext, link: Link, entry: OutboxEntry, cause: unknown): void {
  const error = GmqError.from(cause, "disconnected");
  if (!RETRYABLE.has(error.code)) {
    context.outbox.reject(entry, error);
    context.again();
  } else if (!link.signal.aborted) {
    context.linkBroken(error);
  }
}

/**
 * The record is the message: it has every field a transport reads (the rest, createdAt and key,
 * are the outbox's own), and not copying it saves an object per publish. Only a delayed one is
 * copied, with what is left of its delay.
 */
function toMessage(record: OutboxRecord): OutboundMessage {
  if (record.delayMs === undefined) return record;
  return { ...record, delayMs: Math.max(0, record.createdAt + record.delayMs - Date.now()) };
}
