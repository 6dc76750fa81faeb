import { GmqError } from "./errors.js";

/**
 * The outbox store contract: where queued publishes wait until the backend accepts them. Small
 * and async so it can sit on memory, IndexedDB or a file. The core keeps the working queue in
 * memory and uses the store only to persist it and to recover it after a reload or a crash.
 */

/** One queued publish, as persisted. Everything needed to send it again after a restart. */
export interface OutboxRecord {
  /** gmq message id: unique, stable, and monotonic within one client, so sorting by id gives
   *  enqueue order. */
  readonly id: string;
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly headers?: Readonly<Record<string, string>>;
  readonly qos: 1 | 2;
  readonly retain?: boolean;
  /** "Latest per key": an unsent older record with the same key is replaced. */
  readonly key?: string;
  /** Epoch ms when it was enqueued. */
  readonly createdAt: number;
  /** Epoch ms after which it is dropped unsent. */
  readonly expiresAt?: number;
  /** Deliver this long after `createdAt` (the transport gets what is left of it when sent). */
  readonly delayMs?: number;
  /** The backend's routing key (`OutboundMessage.routeKey`). */
  readonly routeKey?: string;
}

export interface OutboxStore {
  /** Short name for events and errors, e.g. `memory`, `indexeddb`, `file`. */
  readonly kind: string;
  /** True when a resolved `put` survives a reload or crash. `publish` reports it as `queued`. */
  readonly durable: boolean;

  /** Every stored record, sorted by `id` ascending. Called once before first use (and again by a
   *  shared store's new sender). Reject with GmqError `storage` when the store cannot open. */
  load(): Promise<OutboxRecord[]>;

  /** Persist records (insert or overwrite by id). Resolving means durable (for a durable store).
   *  Called often and concurrently: batch the writes (one transaction / fsync for many). */
  put(records: readonly OutboxRecord[]): Promise<void>;

  /** Remove records by id; unknown ids are ignored. */
  delete(ids: readonly string[]): Promise<void>;

  /** Flush and release everything (files, locks, connections). Idempotent. */
  close(): Promise<void>;

  /**
   * Optional: small named values kept beside the outbox, e.g. where each subscription stream was,
   * so a reloaded tab or a restarted process resumes where it was. `undefined` deletes one.
   */
  readState?(key: string): Promise<string | undefined>;
  writeState?(key: string, value: string | undefined): Promise<void>;

  /** Present when several contexts (browser tabs) share one outbox; see SharedOutbox. */
  readonly shared?: SharedOutbox;
}

/**
 * Coordination between contexts sharing one store, so that one message is never sent by two of
 * them: exactly one context, the sender, flushes. The others only `put` and `notify`.
 */
export interface SharedOutbox {
  /** Resolves when this context becomes the sender, with a function that gives the role up.
   *  Rejects with the signal's reason when aborted first. */
  acquireSender(signal: AbortSignal): Promise<() => void>;
  /** Tell the other contexts that records were put or deleted. */
  notify(): void;
  /** Called when another context put or deleted records. Returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/** Sorts records by id, which is enqueue order. */
export const byId = (a: OutboxRecord, b: OutboxRecord): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Checks the records a store is asked to `put`, throwing GmqError `invalid_argument` naming the
 * field. Stores call it before a record joins a batch, so one bad record fails only its own call
 * (and never a whole transaction or fsync group shared with other callers).
 */
export function checkOutboxRecords(records: readonly OutboxRecord[]): void {
  // A plain loop and an error built only on failure: this runs for every record of every put.
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    const problem = recordProblem(record);
    if (problem) {
      const [name, message] = problem;
      throw GmqError.invalid(name ? `records[${i}].${name}` : `records[${i}]`, message);
    }
  }
}

/** What is wrong with a record, as [field, message], or undefined. */
function recordProblem(record: OutboxRecord | undefined): [string, string] | undefined {
  if (typeof record !== "object" || record === null) return ["", "must be an object"];
  if (typeof record.id !== "string") return ["id", "must be a string"];
  if (typeof record.topic !== "string") return ["topic", "must be a string"];
  if (!(record.payload instanceof Uint8Array)) return ["payload", "must be a Uint8Array"];
  if (record.qos !== 1 && record.qos !== 2) return ["qos", "must be 1 or 2"];
  if (typeof record.createdAt !== "number") return ["createdAt", "must be a number"];
  if (record.expiresAt !== undefined && typeof record.expiresAt !== "number")
    return ["expiresAt", "must be a number"];
  if (record.key !== undefined && typeof record.key !== "string") return ["key", "must be a string"];
  if (record.routeKey !== undefined && typeof record.routeKey !== "string")
    return ["routeKey", "must be a string"];
  if (record.delayMs !== undefined && typeof record.delayMs !== "number")
    return ["delayMs", "must be a number"];
  if (record.headers !== undefined) {
    if (typeof record.headers !== "object" || record.headers === null)
      return ["headers", "must be an object of strings"];
    for (const name in record.headers) {
      if (Object.hasOwn(record.headers, name) && typeof record.headers[name] !== "string")
        return [`headers.${name}`, "must be a string"];
    }
  }
  return undefined;
}

/** Checks the ids a store is asked to `delete`. */
export function checkOutboxIds(ids: readonly string[]): void {
  ids.forEach((id, i) => {
    if (typeof id !== "string") throw GmqError.invalid(`ids[${i}]`, "must be a string");
  });
}
