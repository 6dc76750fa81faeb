import "fake-indexeddb/auto";
import { IDBFactory } from "fake-indexeddb";
import { record, runStoreContract } from "gmq/contract";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { toStorageError } from "../adapters/store-indexeddb/errors.js";
import { type IndexedDbOutboxStore, indexedDbStore } from "../adapters/store-indexeddb/index.js";
import { GmqError } from "../src/errors.js";
import type { OutboxRecord } from "../src/store.js";

runStoreContract("indexeddb", {
  fresh: () => {
    globalThis.indexedDB = new IDBFactory();
  },
  open: () => indexedDbStore({ name: "contract" }),
});

const opened: IndexedDbOutboxStore[] = [];
const open = (options: Partial<Parameters<typeof indexedDbStore>[0]> = {}): IndexedDbOutboxStore => {
  const store = indexedDbStore({ name: "app", ...options });
  opened.push(store);
  return store;
};

beforeEach(() => {
  globalThis.indexedDB = new IDBFactory();
});
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close().catch(() => {});
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

const ids = (records: readonly OutboxRecord[]): string[] => records.map((r) => r.id);

/** Counts readwrite transactions at the IndexedDB level, independent of the store's own counter. */
function countWriteTransactions(): { count: number } {
  const counter = { count: 0 };
  const original = IDBDatabase.prototype.transaction;
  vi.spyOn(IDBDatabase.prototype, "transaction").mockImplementation(function (
    this: IDBDatabase,
    ...args: Parameters<IDBDatabase["transaction"]>
  ) {
    if (args[1] === "readwrite") counter.count++;
    return original.apply(this, args);
  });
  return counter;
}

describe("indexeddb store: batching", () => {
  it("puts its own database per outbox name", async () => {
    const store = open({ name: "orders" });
    expect(store.databaseName).toBe("gmq-outbox-orders");
    await store.put([record(1)]);
    const names = (await indexedDB.databases()).map((d) => d.name);
    expect(names).toContain("gmq-outbox-orders");
  });

  it("writes 500 puts issued in one tick in one transaction", async () => {
    const store = open();
    await store.load();
    const counter = countWriteTransactions();
    const all = Array.from({ length: 500 }, (_, i) => record(i));
    await Promise.all(all.map((r) => store.put([r])));
    expect(counter.count).toBe(1);
    expect(store.transactions).toBe(1);
    expect(ids(await store.load())).toEqual(ids(all));
  });

  it("puts and deletes of one tick share a transaction and apply in call order", async () => {
    const store = open();
    await store.load();
    await store.put([record(1), record(2)]);
    const counter = countWriteTransactions();
    await Promise.all([
      store.delete([record(1).id]),
      store.put([record(3)]),
      store.delete([record(3).id]),
      store.delete([record(4).id]),
      store.put([record(4)]),
      store.put([record(2, { topic: "changed" })]),
    ]);
    expect(counter.count).toBe(1);
    const loaded = await store.load();
    expect(loaded.map((r) => [r.id, r.topic])).toEqual([
      [record(2).id, "changed"],
      [record(4).id, "t/4"],
    ]);
  });

  it("calls made while a transaction runs go together into the next one", async () => {
    const store = open();
    await store.load();
    const counter = countWriteTransactions();
    const first = store.put([record(0)]);
    // Wait until the first transaction exists, then issue 100 more in separate ticks.
    while (counter.count === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    const more: Promise<void>[] = [];
    for (let i = 1; i <= 100; i++) {
      more.push(store.put([record(i)]));
      if (i % 10 === 0) await Promise.resolve();
    }
    await Promise.all([first, ...more]);
    expect(counter.count).toBeLessThanOrEqual(3);
    expect(await store.load()).toHaveLength(101);
  });

  it("round-trips payloads as exact Uint8Arrays, whatever view they came in", async () => {
    const store = open();
    await store.load();
    const big = new Uint8Array(1024).map((_, i) => i % 256);
    const view = big.subarray(10, 14);
    const buffer = Buffer.from([9, 8, 7]);
    await store.put([record(1, { payload: view }), record(2, { payload: buffer })]);
    await store.close();
    const [a, b] = await open().load();
    expect(a!.payload).toBeInstanceOf(Uint8Array);
    expect(a!.payload.constructor).toBe(Uint8Array);
    expect(Array.from(a!.payload)).toEqual([10, 11, 12, 13]);
    // Only the view's bytes were stored, not the whole 1 KiB buffer behind it.
    expect(a!.payload.buffer.byteLength).toBe(4);
    expect(b!.payload.constructor).toBe(Uint8Array);
    expect(Array.from(b!.payload)).toEqual([9, 8, 7]);
  });

  it("a bad record fails only its own call", async () => {
    const store = open();
    await store.load();
    const bad = { ...record(2), payload: [1, 2] } as unknown as OutboxRecord;
    const results = await Promise.allSettled([
      store.put([record(1)]),
      store.put([bad]),
      store.put([record(3)]),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({
      code: "invalid_argument",
      field: "records[0].payload",
    });
  });
});

describe("indexeddb store: errors and fallback", () => {
  it("maps a full disk to storage / QUOTA_EXCEEDED, and the whole batch fails together", async () => {
    const store = open();
    await store.load();
    await store.put([record(1)]);
    const original = IDBObjectStore.prototype.put;
    let calls = 0;
    vi.spyOn(IDBObjectStore.prototype, "put").mockImplementation(function (
      this: IDBObjectStore,
      ...args: Parameters<IDBObjectStore["put"]>
    ) {
      if (++calls === 3) throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
      return original.apply(this, args);
    });
    const results = await Promise.allSettled([2, 3, 4].map((i) => store.put([record(i)])));
    for (const result of results) {
      expect(result.status).toBe("rejected");
      const error = (result as PromiseRejectedResult).reason as GmqError;
      expect(error).toBeInstanceOf(GmqError);
      expect(error).toMatchObject({ code: "storage", reason: "QUOTA_EXCEEDED" });
    }
    vi.restoreAllMocks();
    // Aborted as a unit: the two puts before the failing one did not land either.
    expect(ids(await store.load())).toEqual([record(1).id]);
    expect(store.durable).toBe(true); // a full disk is an error, never a silent fallback
  });

  it("maps quota errors by name, including old Firefox's, and keeps other names as reasons", () => {
    expect(toStorageError(new DOMException("full", "QuotaExceededError"), "write").reason).toBe(
      "QUOTA_EXCEEDED",
    );
    expect(toStorageError({ name: "NS_ERROR_DOM_QUOTA_REACHED" }, "write").reason).toBe("QUOTA_EXCEEDED");
    expect(toStorageError(new DOMException("gone", "UnknownError"), "write")).toMatchObject({
      code: "storage",
      reason: "UnknownError",
    });
  });

  it("without IndexedDB fails with UNAVAILABLE by default", async () => {
    vi.stubGlobal("indexedDB", undefined);
    const store = open();
    expect(store.durable).toBe(false);
    await expect(store.load()).rejects.toMatchObject({ code: "storage", reason: "UNAVAILABLE" });
    await expect(store.put([record(1)])).rejects.toMatchObject({ code: "storage", reason: "UNAVAILABLE" });
  });

  it('without IndexedDB and fallback "memory", works in memory and says so', async () => {
    vi.stubGlobal("indexedDB", undefined);
    const onFallback = vi.fn();
    const store = open({ fallback: "memory", onFallback });
    expect(store.durable).toBe(false);
    expect(onFallback).toHaveBeenCalledTimes(1);
    expect(onFallback.mock.calls[0]![0]).toMatchObject({ code: "storage", reason: "UNAVAILABLE" });
    expect(store.fallbackReason).toBe(onFallback.mock.calls[0]![0]);
    await store.put([record(2), record(1)]);
    expect(ids(await store.load())).toEqual([record(1).id, record(2).id]);
    expect(store.shared).toBeUndefined();
  });

  for (const mode of ["throws", "fails"] as const) {
    it(`an open that ${mode} (private mode) is UNAVAILABLE, or degrades with fallback "memory"`, async () => {
      const failingOpen = () => {
        const error = new DOMException("A mutation operation was attempted", "InvalidStateError");
        if (mode === "throws") throw error;
        const request = {} as { error?: DOMException; onerror?: () => void };
        setTimeout(() => {
          request.error = error;
          request.onerror?.();
        }, 0);
        return request as unknown as IDBOpenDBRequest;
      };
      vi.spyOn(indexedDB, "open").mockImplementation(failingOpen);
      const strict = open({ name: "strict" });
      expect(strict.durable).toBe(true); // not known until it tries
      await expect(strict.load()).rejects.toMatchObject({ code: "storage", reason: "UNAVAILABLE" });
      await expect(strict.put([record(1)])).rejects.toMatchObject({ code: "storage", reason: "UNAVAILABLE" });

      const onFallback = vi.fn();
      const lenient = open({ name: "lenient", fallback: "memory", onFallback });
      // A put before load degrades too, and its record is kept.
      await lenient.put([record(1)]);
      expect(lenient.durable).toBe(false);
      expect(ids(await lenient.load())).toEqual([record(1).id]);
      expect(onFallback).toHaveBeenCalledTimes(1);
      expect(onFallback.mock.calls[0]![0]).toMatchObject({ reason: "UNAVAILABLE" });
    });
  }

  it("checks its options", () => {
    expect(() => indexedDbStore({ name: "" })).toThrow(expect.objectContaining({ field: "name" }));
    expect(() => indexedDbStore({ name: "x", fallback: "disk" as "memory" })).toThrow(
      expect.objectContaining({ code: "invalid_argument", field: "fallback" }),
    );
  });

  it("use after close fails with `closed`", async () => {
    const store = open();
    await store.put([record(1)]);
    await store.close();
    await expect(store.put([record(2)])).rejects.toMatchObject({ code: "closed" });
    await expect(store.load()).rejects.toMatchObject({ code: "closed" });
    // The connection is closed, so the database can be deleted without being blocked.
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.deleteDatabase(store.databaseName);
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("blocked by an open connection"));
    });
  });
});

describe("indexeddb store: sharing between tabs", () => {
  it("is not shared without Web Locks, or when asked not to be", () => {
    vi.stubGlobal("navigator", undefined);
    expect(open().shared).toBeUndefined();
    vi.stubGlobal("navigator", { locks: new FakeLockManager() });
    expect(open({ shared: false }).shared).toBeUndefined();
    expect(open().shared).toBeDefined();
  });

  it("elects one sender; the next waiting tab takes over when it releases or closes", async () => {
    vi.stubGlobal("navigator", { locks: new FakeLockManager() });
    const [a, b, c] = [open(), open(), open()];
    const releaseA = await a.shared!.acquireSender(new AbortController().signal);
    let bIsSender = false;
    const bTurn = b.shared!.acquireSender(new AbortController().signal).then((release) => {
      bIsSender = true;
      return release;
    });
    const cAbort = new AbortController();
    const cTurn = c.shared!.acquireSender(cAbort.signal);
    await tick();
    expect(bIsSender).toBe(false);
    // Aborting a wait rejects with the signal's reason.
    const reason = new Error("tab hidden");
    cAbort.abort(reason);
    await expect(cTurn).rejects.toBe(reason);
    releaseA();
    const releaseB = await bTurn;
    expect(bIsSender).toBe(true);
    // A sender that closes (the tab goes away) frees the role for the next one.
    const aAgain = a.shared!.acquireSender(new AbortController().signal);
    await b.close();
    await expect(aAgain).resolves.toBeTypeOf("function");
    releaseB(); // harmless after close
  });

  it("close() rejects a pending sender wait with `closed`", async () => {
    vi.stubGlobal("navigator", { locks: new FakeLockManager() });
    const [a, b] = [open(), open()];
    await a.shared!.acquireSender(new AbortController().signal);
    const waiting = b.shared!.acquireSender(new AbortController().signal);
    await b.close();
    await expect(waiting).rejects.toMatchObject({ code: "closed" });
  });

  it("notify() reaches the other tabs' onChange listeners, not its own", async () => {
    vi.stubGlobal("navigator", { locks: new FakeLockManager() });
    const [a, b] = [open({ name: "chat" }), open({ name: "chat" })];
    const other = open({ name: "other" });
    const seenA = vi.fn();
    const seenB = vi.fn();
    const seenOther = vi.fn();
    a.shared!.onChange(seenA);
    const unsubscribe = b.shared!.onChange(seenB);
    other.shared!.onChange(seenOther);
    a.shared!.notify();
    await vi.waitFor(() => expect(seenB).toHaveBeenCalledTimes(1));
    unsubscribe();
    a.shared!.notify();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seenB).toHaveBeenCalledTimes(1);
    expect(seenA).not.toHaveBeenCalled();
    expect(seenOther).not.toHaveBeenCalled();
  });
});

const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

/** A Web Locks stand-in with the semantics the store relies on: exclusive, FIFO, abortable
 *  while waiting, released when the callback's promise settles. (Real Chromium: lead's tests.) */
class FakeLockManager {
  private readonly queues = new Map<string, (() => void)[]>();
  private readonly held = new Set<string>();

  request(name: string, options: { signal?: AbortSignal }, callback: () => unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const { signal } = options;
      if (signal?.aborted) return reject(signal.reason);
      const grant = () => {
        signal?.removeEventListener("abort", onAbort);
        this.held.add(name);
        Promise.resolve()
          .then(callback)
          .then(resolve, reject)
          .finally(() => {
            this.held.delete(name);
            this.queues.get(name)?.shift()?.();
          });
      };
      const onAbort = () => {
        const queue = this.queues.get(name) ?? [];
        const i = queue.indexOf(grant);
        if (i >= 0) queue.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      if (!this.held.has(name)) grant();
      else {
        const queue = this.queues.get(name) ?? [];
        queue.push(grant);
        this.queues.set(name, queue);
      }
    });
  }
}
