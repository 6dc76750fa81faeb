import { backoffDelay, createIdGenerator, jsonCodec, textCodec, topicMatches } from "gmq";
import { createMemoryTransport } from "gmq/testing";
import { describe, expect, it } from "vitest";
import { DedupWindow } from "../src/dedup.js";
import { resolveClientOptions } from "../src/options.js";

describe("topicMatches", () => {
  it.each([
    ["a/b", "a/b", true],
    ["a/+", "a/b", true],
    ["a/+", "a/b/c", false],
    ["a/#", "a", true],
    ["a/#", "a/b/c", true],
    ["+/+", "a/b", true],
    ["#", "$SYS/x", false],
    ["$SYS/#", "$SYS/x", true],
    ["a/+/c", "a//c", true],
    ["a/b", "a/c", false],
  ])("%s vs %s -> %s", (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });
});

describe("backoff", () => {
  it("is full jitter under an exponential ceiling with a cap", () => {
    expect(backoffDelay(0, { initialDelayMs: 100 }, () => 0.999)).toBe(99);
    expect(backoffDelay(3, { initialDelayMs: 100 }, () => 0.5)).toBe(400);
    expect(backoffDelay(40, { initialDelayMs: 100, maxDelayMs: 5_000 }, () => 0.999)).toBe(4995);
    expect(backoffDelay(5, {}, () => 0)).toBe(0);
  });
});

describe("ids", () => {
  it("sort in creation order and never repeat", () => {
    const next = createIdGenerator();
    const ids = Array.from({ length: 20_000 }, () => next());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });
});

describe("dedup window", () => {
  it("remembers the last N ids and forgets on request", () => {
    const window = new DedupWindow(2);
    expect(window.seen("a")).toBe(false);
    expect(window.seen("a")).toBe(true);
    window.seen("b");
    window.seen("c"); // evicts a
    expect(window.seen("a")).toBe(false);
    window.forget("c");
    expect(window.seen("c")).toBe(false);
  });

  it("keeps exactly the last N ids over many turns of its ring", () => {
    const window = new DedupWindow(3);
    for (let i = 0; i < 100; i++) expect(window.seen(`id-${i}`)).toBe(false);
    for (const i of [97, 98, 99]) expect(window.seen(`id-${i}`)).toBe(true);
    expect(window.seen("id-96")).toBe(false); // long evicted; recording it again evicts id-97
    expect(window.seen("id-98")).toBe(true);
    expect(window.seen("id-97")).toBe(false);
  });

  it("does not evict a forgotten and re-recorded id through its older slot", () => {
    const window = new DedupWindow(3);
    window.seen("a");
    window.seen("b");
    window.forget("a");
    expect(window.seen("a")).toBe(false); // recorded again, in the third slot
    window.seen("c"); // takes a's first slot, which must not evict the newer a
    expect(window.seen("a")).toBe(true);
    expect(window.seen("b")).toBe(true);
  });

  it("a redelivery is a copy only once the earlier delivery was acked", () => {
    const window = new DedupWindow(2);
    expect(window.seen("a")).toBe(false);
    expect(window.seen("a", true)).toBe(false); // the backend retries one the app has not acked
    expect(window.seen("a")).toBe(true); // a copy that is not a redelivery (a publish sent again)
    window.acked("a");
    expect(window.seen("a", true)).toBe(true);
    window.forget("a"); // nacked with requeue: processed again, and no longer acked
    expect(window.seen("a")).toBe(false);
    expect(window.seen("a", true)).toBe(false);
    window.acked("a");
    window.seen("b");
    window.seen("c"); // evicts a, and that it was acked
    expect(window.seen("a", true)).toBe(false);
    expect(window.seen("a", true)).toBe(false);
  });

  it("with size 0 remembers nothing", () => {
    const window = new DedupWindow(0);
    expect(window.seen("a")).toBe(false);
    expect(window.seen("a")).toBe(false);
  });
});

describe("codecs", () => {
  it("json round-trips and rejects what JSON cannot carry", () => {
    expect(jsonCodec.decode(jsonCodec.encode({ a: [1, "x"] }))).toEqual({ a: [1, "x"] });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => jsonCodec.encode(circular)).toThrow(/payload/);
    expect(() => jsonCodec.decode(new Uint8Array([0x7b]))).toThrow(/JSON/);
  });
  it("text refuses invalid UTF-8 on decode", () => {
    expect(textCodec.decode(textCodec.encode("héllo"))).toBe("héllo");
    expect(() => textCodec.decode(new Uint8Array([0xff]))).toThrow(/UTF-8/);
  });
});

describe("TopicTree", () => {
  it("finds exactly what topicMatches matches, and forgets deleted filters", async () => {
    const { TopicTree } = await import("../src/topic-tree.js");
    const filters = ["a/b", "a/+", "a/#", "+/+", "#", "$SYS/#", "a/+/c", "+", "a/b/#", "+/b/+"];
    const topics = ["a/b", "a/b/c", "a", "$SYS/x", "a//c", "a/c", "b", "", "a/b/c/d", "x/b/y"];
    const tree = new TopicTree<string>();
    for (const filter of filters) tree.add(filter, filter);
    for (const topic of topics) {
      const expected = filters.filter((filter) => topicMatches(filter, topic)).sort();
      expect([...tree.match(topic)].sort(), topic).toEqual(expected);
    }
    for (const filter of filters) tree.delete(filter, filter);
    for (const topic of topics) expect(tree.match(topic).size).toBe(0);
    expect((tree as unknown as { root: { children: Map<string, unknown> } }).root.children.size).toBe(0);
  });
});

describe("Outbox.load", () => {
  it("does not retire a record whose write landed while the store was being read", async () => {
    const { Outbox, OutboxEntry } = await import("../src/outbox.js");
    const { memoryStore } = await import("gmq");
    const inner = memoryStore();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // A store read that snapshots before a concurrent write commits (as another tab's sync may).
    const store = {
      ...inner,
      async load() {
        const snapshot = await inner.load();
        await gate;
        return snapshot;
      },
    };
    const sent: string[] = [];
    const outbox = new Outbox(store, resolveClientOptions({ transport: createMemoryTransport() }).outbox, {
      onDropped: () => {},
      onChange: () => {},
      onPersisted: () => {},
      onError: () => {},
    });
    const reading = outbox.load();
    const entry = new OutboxEntry({
      id: "a",
      topic: "t",
      payload: new Uint8Array([1]),
      qos: 1,
      createdAt: Date.now(),
    });
    entry.sent = () => void sent.push("a");
    outbox.enqueue(entry);
    await new Promise((r) => setTimeout(r, 10)); // the write lands during the read
    release();
    await reading;
    expect(sent).toEqual([]);
    expect(outbox.stats().count).toBe(1);
  });
});
