/**
 * The shared outbox-store contract suite. Every store runs it:
 *
 *   runStoreContract("file", { open: () => fileStore({ path }), fresh: () => … })
 *
 * `open()` must return a store over the same backing storage each time it is called within one
 * test (so durable stores can be reopened); `fresh()` is called before each test to give every
 * test empty storage.
 */

import type { OutboxRecord, OutboxStore } from "gmq";
import { GmqError } from "gmq";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

export interface StoreHarness {
  /** Reset to empty backing storage (called before each test). */
  fresh(): Promise<void> | void;
  /** A store over the current backing storage. */
  open(): Promise<OutboxStore> | OutboxStore;
}

export function record(n: number, extra: Partial<OutboxRecord> = {}): OutboxRecord {
  return {
    id: `id-${String(n).padStart(8, "0")}`,
    topic: `t/${n}`,
    payload: new TextEncoder().encode(`payload ${n}`),
    qos: 1,
    createdAt: 1_700_000_000_000 + n,
    ...extra,
  };
}

export function runStoreContract(name: string, harness: StoreHarness): void {
  describe(`store contract: ${name}`, () => {
    const opened: OutboxStore[] = [];
    const open = async (): Promise<OutboxStore> => {
      const store = await harness.open();
      opened.push(store);
      return store;
    };

    beforeEach(async () => {
      await harness.fresh();
    });
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
    });

    it("starts empty", async () => {
      const store = await open();
      expect(await store.load()).toEqual([]);
    });

    it("returns every field of what was put, sorted by id", async () => {
      const store = await open();
      await store.load();
      const full = record(2, {
        headers: { a: "1", "x-y": "z" },
        qos: 2,
        retain: true,
        key: "k",
        routeKey: "orders.eu",
        delayMs: 10_000,
        expiresAt: 1_800_000_000_000,
        payload: new Uint8Array([0, 255, 1, 254]),
      });
      await store.put([record(3), full]);
      await store.put([record(1)]);
      const loaded = await store.load();
      expect(loaded.map((r) => r.id)).toEqual([record(1).id, full.id, record(3).id]);
      const got = loaded[1]!;
      expect(got.topic).toBe(full.topic);
      expect(Array.from(got.payload)).toEqual([0, 255, 1, 254]);
      expect(got.payload).toBeInstanceOf(Uint8Array);
      expect(got.headers).toEqual({ a: "1", "x-y": "z" });
      expect(got.qos).toBe(2);
      expect(got.retain).toBe(true);
      expect(got.key).toBe("k");
      expect(got.routeKey).toBe("orders.eu");
      expect(got.delayMs).toBe(10_000);
      expect(got.expiresAt).toBe(1_800_000_000_000);
      expect(got.createdAt).toBe(full.createdAt);
    });

    it("overwrites by id and deletes by id, ignoring unknown ids", async () => {
      const store = await open();
      await store.load();
      await store.put([record(1), record(2), record(3)]);
      await store.put([record(2, { topic: "changed" })]);
      await store.delete([record(1).id, "no-such-id"]);
      const loaded = await store.load();
      expect(loaded.map((r) => [r.id, r.topic])).toEqual([
        [record(2).id, "changed"],
        [record(3).id, "t/3"],
      ]);
    });

    it("keeps order under many concurrent puts and deletes", async () => {
      const store = await open();
      await store.load();
      const all = Array.from({ length: 500 }, (_, i) => record(i));
      await Promise.all(all.map((r) => store.put([r])));
      await Promise.all(all.filter((_, i) => i % 3 === 0).map((r) => store.delete([r.id])));
      const loaded = await store.load();
      expect(loaded.map((r) => r.id)).toEqual(all.filter((_, i) => i % 3 !== 0).map((r) => r.id));
    });

    it("close is idempotent", async () => {
      const store = await open();
      await store.load();
      await store.put([record(1)]);
      await store.close();
      await store.close();
    });

    it("a durable store gives back after reopening exactly what it held", async () => {
      const first = await open();
      await first.load();
      await first.put([record(1), record(2), record(3)]);
      await first.delete([record(2).id]);
      await first.close();
      const second = await open();
      const loaded = await second.load();
      if (second.durable) {
        expect(loaded.map((r) => r.id)).toEqual([record(1).id, record(3).id]);
        expect(new TextDecoder().decode(loaded[1]!.payload)).toBe("payload 3");
      } else {
        // A non-durable store promises nothing across instances; it must still open cleanly.
        expect(Array.isArray(loaded)).toBe(true);
      }
    });

    it("failures surface as GmqError, never as a bare Error", async () => {
      const store = await open();
      await store.load();
      await store.close();
      // Using a closed store must fail clearly (or be a harmless no-op), never hang.
      const outcome = await Promise.race([
        store.put([record(9)]).then(
          () => "ok" as const,
          (error: unknown) => error,
        ),
        new Promise((resolve) => setTimeout(() => resolve("hang"), 2_000)),
      ]);
      expect(outcome).not.toBe("hang");
      if (outcome !== "ok") expect(outcome).toBeInstanceOf(GmqError);
    });

    it("keeps small named values (stream positions) beside the records, if it keeps state", async () => {
      const first = await open();
      if (!first.readState || !first.writeState) {
        expect(first.writeState).toBeUndefined(); // both or neither
        return;
      }
      expect(await first.readState("position:a")).toBeUndefined();
      await Promise.all([first.writeState("position:a", "1:10"), first.writeState("position:b", "2:20")]);
      await first.writeState("position:a", "1:11");
      await first.writeState("position:b", undefined);
      await first.put([record(1)]);
      expect(await first.readState("position:a")).toBe("1:11");
      expect(await first.readState("position:b")).toBeUndefined();
      expect((await first.load()).map((r) => r.id)).toEqual([record(1).id]); // values are not records
      await first.close();
      const second = await open();
      if (second.durable) expect(await second.readState!("position:a")).toBe("1:11");
    });
  });
}
