import { type AbortWatcher, abortError, unwatchAbort, watchAbort } from "./abort-watch.js";
import type { Link } from "./connection.js";
import { createDeadline } from "./deadline.js";
import { GmqError } from "./errors.js";
import type { PublishOptions, PublishResult } from "./options.js";
import { type DroppedEvent, type Outbox, OutboxEntry } from "./outbox.js";
import type { OutboxRecord } from "./store.js";
import type { OutboundMessage, Transport } from "./transport.js";

/** What an at-least-once publish needs from the client. */
export interface OutboxPublisher {
  readonly outbox: Outbox;
  readonly durable: boolean;
  /** Connected, and this context is the one that flushes. */
  canSend(): boolean;
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
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortError(signal, "publish"));
  return new Promise<PublishResult>((resolve, reject) => {
    const pending = new PendingPublish(publisher, record, resolve, reject);
    publisher.outbox.enqueue(pending); // may throw (full): the promise rejects
    pending.watch(options);
  });
}

/**
 * One publish waiting on its outbox record: the record's entry itself, with the caller's signal
 * and timeout. A class, not closures: one is made for every message.
 */
class PendingPublish extends OutboxEntry implements AbortWatcher {
  #settled = false;
  #signal: AbortSignal | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #publisher: OutboxPublisher;
  readonly #resolve: (result: PublishResult) => void;
  readonly #reject: (error: unknown) => void;

  constructor(
    publisher: OutboxPublisher,
    record: OutboxRecord,
    resolve: (result: PublishResult) => void,
    reject: (error: unknown) => void,
  ) {
    super(record);
    this.#publisher = publisher;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Once enqueued: the caller's signal and timeout withdraw it. */
  watch({ signal, timeoutMs }: Pick<PublishOptions, "signal" | "timeoutMs">): void {
    this.#signal = signal;
    if (signal) watchAbort(signal, this);
    if (timeoutMs !== undefined) {
      this.#timer = setTimeout(() => {
        this.#withdraw("timeout", new GmqError("timeout", `publish timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    }
  }

  override stored(): void {
    if (!this.#publisher.canSend()) this.#succeed("queued");
  }

  override sent(): void {
    this.#detach();
    this.#succeed("sent");
  }

  override dropped(event: DroppedEvent): void {
    this.#detach();
    if (event.reason === "replaced") this.#succeed("replaced");
    else this.#fail(event.error ?? dropError(event));
  }

  /** The caller's signal aborted. */
  aborted(signal: AbortSignal): void {
    this.#withdraw("aborted", abortError(signal, "publish"));
  }

  /** Takes the record back if it was not handed over yet; the publish fails either way. */
  #withdraw(reason: "aborted" | "timeout", error: GmqError): void {
    if (!this.#publisher.outbox.withdraw(this, reason, error)) this.#fail(error);
  }

  #detach(): void {
    if (this.#signal) unwatchAbort(this.#signal, this);
  }

  #succeed(status: PublishResult["status"]): void {
    if (this.#settle()) this.#resolve({ id: this.record.id, status, durable: this.#publisher.durable });
  }

  #fail(error: unknown): void {
    if (this.#settle()) this.#reject(error);
  }

  #settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    return true;
  }
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
export function publishAtMostOnce(
  transport: Transport,
  link: Link | undefined,
  message: OutboundMessage,
  options: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined },
): Promise<PublishResult> {
  if (!link)
    return Promise.reject(new GmqError("disconnected", "not connected, and qos 0 messages are never queued"));
  const sent: PublishResult = { id: message.id, status: "sent", durable: false };
  if (options.signal === undefined && options.timeoutMs === undefined) {
    // The common case, kept lean (one promise): nothing to race but the connection itself.
    return transport.publish(message, { signal: link.signal }).then(() => sent, failedToSend);
  }
  return publishWithDeadline(transport, link, message, options).then(() => sent);
}

async function publishWithDeadline(
  transport: Transport,
  link: Link,
  message: OutboundMessage,
  options: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined },
): Promise<void> {
  const deadline = createDeadline({ ...options, what: "publish" });
  try {
    deadline.follow(link.signal);
    await Promise.race([transport.publish(message, { signal: deadline.signal }), deadline.done]);
  } catch (error) {
    failedToSend(error);
  } finally {
    deadline.dispose();
  }
}

function failedToSend(error: unknown): never {
  throw GmqError.from(error, "disconnected");
}
