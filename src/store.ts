import { check, checkValue } from "./validate.js";

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

/** A record's fields: those it must have, and those it may have. */
const RECORD = { id: "string", topic: "string", payload: "bytes", qos: [1, 2], createdAt: "number" } as const;
const RECORD_OPTIONAL = {
  expiresAt: "number",
  key: "string",
  routeKey: "string",
  delayMs: "number",
  headers: "headers",
  retain: "boolean",
} as const;

/**
 * Checks the records a store is asked to `put`, throwing GmqError `invalid_argument` naming the
 * field (e.g. `records[0].payload`). Stores call it before a record joins a batch, so one bad
 * record fails only its own call (and never a whole transaction or fsync group shared with other
 * callers).
 */
export function checkOutboxRecords(records: readonly OutboxRecord[]): void {
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    const field = `records[${i}]`;
    check(record, RECORD, field, true);
    check(record, RECORD_OPTIONAL, field);
  }
}

/** Checks the ids a store is asked to `delete`. */
export function checkOutboxIds(ids: readonly string[]): void {
  for (let i = 0; i < ids.length; i++) checkValue(ids[i], "string", `ids[${i}]`, "", true);
}
