/**
 * Write batching: every put and delete issued while no transaction has started yet (the same
 * tick, or while the previous transaction runs) goes into one readwrite transaction, in call
 * order. The callers of a batch share one promise, settled when the transaction completes: that
 * is when IndexedDB says the writes are committed.
 */
import type { OutboxRecord } from "gmq";
import type { UseStore } from "idb-keyval";
import { toStorageError, unavailableError } from "./errors.js";
import { toStored } from "./record.js";

export type WriteOp =
  | { readonly type: "put"; readonly records: readonly OutboxRecord[] }
  | { readonly type: "delete"; readonly ids: readonly string[] };

class Batch {
  readonly ops: WriteOp[] = [];
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (error: unknown) => void;
  constructor() {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.done.catch(() => {}); // a flush barrier may be its only holder
  }
}

export class WriteBatcher {
  /** Readwrite transactions started: the tests' proof that batching happens. */
  transactions = 0;
  private next: Batch | undefined;
  private running: Promise<void> | undefined;

  /** `onOpened` runs whenever the database was reached (a transaction callback ran). */
  constructor(
    private readonly useStore: UseStore,
    private readonly onOpened: (store: IDBObjectStore) => void,
  ) {}

  /** Resolves when `op` is committed. Its arrays must not change afterwards. */
  submit(op: WriteOp): Promise<void> {
    this.next ??= new Batch();
    const batch = this.next;
    batch.ops.push(op);
    this.kick(); // may settle the batch synchronously (an open that throws)
    return batch.done;
  }

  /** Resolves when everything submitted before it has settled. */
  flush(): Promise<void> {
    if (!this.next && !this.running) return Promise.resolve();
    this.next ??= new Batch();
    const batch = this.next;
    this.kick();
    return batch.done.catch(() => {});
  }

  private kick(): void {
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
      if (this.next) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.next) {
      let batch: Batch | undefined;
      try {
        await this.useStore("readwrite", (store) => {
          // Taken only now, when the transaction exists: whatever arrived until this moment
          // (the database may still have been opening) joins it.
          batch = this.next!;
          this.next = undefined;
          this.transactions++;
          this.onOpened(store);
          return apply(store, batch.ops);
        });
        batch?.resolve();
      } catch (error) {
        if (batch) {
          batch.reject(toStorageError(error, "write"));
        } else {
          // The transaction never started: the database could not be opened.
          const failed = this.next!;
          this.next = undefined;
          failed.reject(
            unavailableError(`IndexedDB outbox: cannot open the database: ${describe(error)}`, error),
          );
        }
      }
    }
  }
}

/** Queues every op on the transaction and resolves when it commits. All or nothing: if one
 *  request throws, the transaction is aborted so none of the batch lands. */
function apply(store: IDBObjectStore, ops: readonly WriteOp[]): Promise<void> {
  const tx = store.transaction;
  const committed = new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    // A failed request aborts the transaction, and a full disk aborts it with QuotaExceededError.
    tx.onabort = () => reject(tx.error ?? new DOMException("transaction aborted", "AbortError"));
  });
  try {
    for (const op of ops) {
      if (op.type === "put") for (const record of op.records) store.put(toStored(record), record.id);
      else for (const id of op.ids) store.delete(id);
    }
  } catch (error) {
    committed.catch(() => {});
    try {
      tx.abort();
    } catch {
      // Already finished or aborted.
    }
    return Promise.reject(error);
  }
  return committed;
}

function describe(error: unknown): string {
  const e = error as { name?: unknown; message?: unknown } | null | undefined;
  if (typeof e?.name === "string" && typeof e.message === "string") return `${e.name}: ${e.message}`;
  return String(error);
}
