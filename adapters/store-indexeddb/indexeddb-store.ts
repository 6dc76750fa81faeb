/**
 * `indexedDbStore`: the browser outbox store, on idb-keyval. One database per outbox
 * (`gmq-outbox-<name>`), records keyed by id, writes batched into one transaction per tick.
 * When IndexedDB is missing or cannot be opened (private mode, policy), it fails with `storage`
 * / `UNAVAILABLE`, or, with `fallback: "memory"`, keeps working in memory and says so.
 */
import {
  checkOutboxIds,
  checkOutboxRecords,
  GmqError,
  memoryStore,
  type OutboxRecord,
  type OutboxStore,
  type SharedOutbox,
} from "gmq";
import { createStore, del, get, promisifyRequest, set, type UseStore } from "idb-keyval";
import { WriteBatcher, type WriteOp } from "./batcher.js";
import { toStorageError, unavailableError } from "./errors.js";
import { fromStored } from "./record.js";
import { createShared, type SharedHandle, sharingSupport } from "./shared.js";

export interface IndexedDbStoreOptions {
  /** Outbox name: database `gmq-outbox-<name>`; also the Web Lock and BroadcastChannel name. */
  name: string;
  /** When IndexedDB is unavailable: `"error"` (default) rejects with `storage` / `UNAVAILABLE`;
   *  `"memory"` degrades to an in-memory store that reports `durable: false`. */
  fallback?: "memory" | "error";
  /** Called once when the store degrades to memory, with the reason. */
  onFallback?: (error: GmqError) => void;
  /** Share the outbox between tabs (one sender, change notifications). Default: true where
   *  Web Locks and BroadcastChannel exist; `shared` is undefined where they do not. */
  shared?: boolean;
}

export interface IndexedDbOutboxStore extends OutboxStore {
  readonly kind: "indexeddb";
  /** False after degrading to memory (or when IndexedDB is missing and every call fails). */
  readonly durable: boolean;
  /** The IndexedDB database name. */
  readonly databaseName: string;
  /** Why the store runs in memory, when it does. */
  readonly fallbackReason: GmqError | undefined;
  /** Readwrite transactions started so far (many puts of one tick share one). */
  readonly transactions: number;
}

const OBJECT_STORE = "records";

export function indexedDbStore(options: IndexedDbStoreOptions): IndexedDbOutboxStore {
  const { name, fallback, onFallback, shared: wantShared } = validate(options);
  const databaseName = `gmq-outbox-${name}`;
  let memory: OutboxStore | undefined;
  let fallbackReason: GmqError | undefined;
  let closing: Promise<void> | undefined;
  /** The open connection, once a transaction reached it (to close it in close()). */
  let db: IDBDatabase | undefined;
  let idb: { useStore: UseStore; batcher: WriteBatcher; state: UseStore } | undefined;

  /** Degrades when allowed; otherwise rethrows. Only "cannot open at all" qualifies: a full disk
   *  or a failed write must not silently turn a durable outbox into a volatile one. */
  const degrade = (error: GmqError): OutboxStore => {
    if (fallback !== "memory" || error.reason !== "UNAVAILABLE") throw error;
    if (!memory) {
      memory = memoryStore();
      fallbackReason = error;
      try {
        onFallback?.(error);
      } catch {
        // A failing report hook must not break the store.
      }
    }
    return memory;
  };

  if (typeof globalThis.indexedDB === "undefined" || globalThis.indexedDB === null) {
    // Without IndexedDB, "error" fails every call (see write and load); "memory" degrades now.
    if (fallback === "memory") degrade(unavailableError("IndexedDB outbox: IndexedDB is not available here"));
  } else {
    const useStore = createStore(databaseName, OBJECT_STORE);
    idb = {
      useStore,
      // Small named values (stream positions) in a database of their own, so `load` sees records only.
      state: createStore(`${databaseName}-state`, "state"),
      batcher: new WriteBatcher(useStore, (store) => {
        db ??= store.transaction.db;
      }),
    };
  }

  const closedError = () => new GmqError("closed", `IndexedDB outbox ${name} is closed`);

  const write = (op: WriteOp): Promise<void> => {
    if (closing) return Promise.reject(closedError());
    if (memory) return op.type === "put" ? memory.put(op.records) : memory.delete(op.ids);
    if (!idb) return Promise.reject(unavailableError("IndexedDB outbox: IndexedDB is not available"));
    return idb.batcher.submit(op).catch((error: GmqError) => {
      // Each caller replays its own op, in call order, into the fallback.
      const store = degrade(error);
      return op.type === "put" ? store.put(op.records) : store.delete(op.ids);
    });
  };

  const support = wantShared ? sharingSupport() : undefined;
  const sharedHandle: SharedHandle | undefined = support
    ? createShared(databaseName, support.locks, () => memory !== undefined)
    : undefined;

  return {
    kind: "indexeddb",
    databaseName,
    get durable() {
      return idb !== undefined && memory === undefined;
    },
    get fallbackReason() {
      return fallbackReason;
    },
    get transactions() {
      return idb?.batcher.transactions ?? 0;
    },
    get shared(): SharedOutbox | undefined {
      // In memory, records live in this tab only: nothing to share.
      return memory ? undefined : sharedHandle;
    },

    async load() {
      if (closing) throw closedError();
      if (!memory && idb) {
        await idb.batcher.flush();
        try {
          return await readAll(idb.useStore, (store) => {
            db ??= store.transaction.db;
          });
        } catch (error) {
          degrade(error as GmqError);
        }
      }
      if (!memory) throw unavailableError("IndexedDB outbox: IndexedDB is not available in this environment");
      return memory.load();
    },

    // Async, so bad input rejects rather than throws; the body up to `write` still runs at call
    // time, which keeps calls in order.
    async put(records) {
      checkOutboxRecords(records);
      if (records.length === 0) {
        if (closing) throw closedError();
        return;
      }
      return write({ type: "put", records: [...records] });
    },

    async delete(ids) {
      checkOutboxIds(ids);
      if (ids.length === 0) {
        if (closing) throw closedError();
        return;
      }
      return write({ type: "delete", ids: [...ids] });
    },

    async readState(key) {
      if (closing) throw closedError();
      if (memory || !idb)
        return (memory ?? degrade(unavailableError("IndexedDB is not available"))).readState!(key);
      try {
        return (await get<string>(key, idb.state)) ?? undefined;
      } catch (error) {
        throw toStorageError(error, "load");
      }
    },

    async writeState(key, value) {
      if (closing) throw closedError();
      if (memory || !idb)
        return (memory ?? degrade(unavailableError("IndexedDB is not available"))).writeState!(key, value);
      try {
        await (value === undefined ? del(key, idb.state) : set(key, value, idb.state));
      } catch (error) {
        throw toStorageError(error, "put");
      }
    },

    close() {
      closing ??= (async () => {
        sharedHandle?.close();
        await idb?.batcher.flush();
        // Closing the connection lets another context delete or upgrade the database.
        db?.close();
        await memory?.close();
      })();
      return closing;
    },
  };
}

/** Every stored record, sorted by id, in one readonly transaction. */
async function readAll(
  useStore: UseStore,
  onOpened: (store: IDBObjectStore) => void,
): Promise<OutboxRecord[]> {
  let opened = false;
  let values: unknown[];
  try {
    values = await useStore("readonly", (store) => {
      opened = true;
      onOpened(store);
      return promisifyRequest(store.getAll());
    });
  } catch (error) {
    if (!opened)
      throw unavailableError(`IndexedDB outbox: cannot open the database: ${String(error)}`, error);
    throw toStorageError(error, "load");
  }
  const records: OutboxRecord[] = [];
  let skipped = 0;
  for (const value of values) {
    const record = fromStored(value);
    if (record) records.push(record);
    else skipped++;
  }
  if (skipped > 0) {
    // Not ours (another library wrote into this database): say so rather than drop it silently.
    console.warn(`gmq: IndexedDB outbox ignored ${skipped} value(s) that are not outbox records`);
  }
  // Keys are ids and IndexedDB returns key order, so this is normally sorted already.
  for (let i = 1; i < records.length; i++) {
    if (records[i - 1]!.id > records[i]!.id) {
      records.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      break;
    }
  }
  return records;
}

function validate(options: IndexedDbStoreOptions): Required<Omit<IndexedDbStoreOptions, "onFallback">> & {
  onFallback: IndexedDbStoreOptions["onFallback"];
} {
  if (typeof options !== "object" || options === null) throw GmqError.invalid("options", "must be an object");
  if (typeof options.name !== "string" || options.name === "") {
    throw GmqError.invalid("name", "must be a non-empty string");
  }
  const fallback = options.fallback ?? "error";
  if (fallback !== "memory" && fallback !== "error")
    throw GmqError.invalid("fallback", 'must be "memory" or "error"');
  if (options.onFallback !== undefined && typeof options.onFallback !== "function") {
    throw GmqError.invalid("onFallback", "must be a function");
  }
  if (options.shared !== undefined && typeof options.shared !== "boolean") {
    throw GmqError.invalid("shared", "must be a boolean");
  }
  return { name: options.name, fallback, onFallback: options.onFallback, shared: options.shared ?? true };
}
