/**
 * Stream positions: the core keeps the position of the last message handled per subscription,
 * in the outbox's store, and resumes there after a restart; a stream that cannot resume says so
 * (`recovered: false`). The transport here is a small log in the test (a stream per subscription,
 * replayed from a position), standing in for a backend with kept history such as the gmq hub.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createClient,
  type InboundMessage,
  type StreamSink,
  type SubscriptionStateChange,
  type Transport,
} from "gmq";
import { waitFor } from "gmq/contract";
import { fileStore } from "gmq/store-file";
import { afterEach, describe, expect, it } from "vitest";

/** A topic log with history from `first` on; positions are `<epoch>:<offset>`. */
function logBackend() {
  const entries: { offset: number; payload: Uint8Array }[] = [];
  const live = new Set<StreamSink>();
  let epoch = "e1";
  const encode = (n: number) => new TextEncoder().encode(JSON.stringify(n));
  const message = (entry: { offset: number; payload: Uint8Array }): InboundMessage => ({
    topic: "log",
    payload: entry.payload,
    id: `m${epoch}-${entry.offset}`,
    position: `${epoch}:${entry.offset}`,
  });
  return {
    append(n: number) {
      const entry = { offset: (entries.at(-1)?.offset ?? 0) + 1, payload: encode(n) };
      entries.push(entry);
      for (const sink of live) sink.message(message(entry));
    },
    /** History lost (a new epoch). */
    reset() {
      epoch = `e${Number(epoch.slice(1)) + 1}`;
      entries.length = 0;
    },
    transport(): Transport {
      return {
        name: "log",
        capabilities: {
          connection: "request",
          inbound: "stream",
          wildcards: false,
          requestReply: false,
          ack: false,
          delay: false,
          binary: true,
          queues: false,
          headers: true,
          retain: false,
        },
        async disconnect() {},
        async publish() {},
        async subscribe(request, { signal, sink }) {
          let recovered: boolean | undefined;
          if (request.position !== undefined) {
            const [at, offset] = request.position.split(":");
            const from = Number(offset);
            recovered = at === epoch && (entries.length === 0 || entries[0]!.offset <= from + 1);
            if (recovered) for (const entry of entries) if (entry.offset > from) sink.message(message(entry));
          }
          live.add(sink);
          signal.addEventListener("abort", () => live.delete(sink), { once: true });
          const position = `${epoch}:${entries.at(-1)?.offset ?? 0}`;
          return recovered === undefined ? undefined : { recovered, ...(!recovered && { position }) };
        },
      };
    },
  };
}

let dir: string;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("stream positions", () => {
  it("a restarted process resumes after the last message it handled, and hears of a lost history", async () => {
    dir = await mkdtemp(join(tmpdir(), "gmq-positions-"));
    const backend = logBackend();
    const run = async (expected: number) => {
      const c = createClient({
        transport: backend.transport(),
        store: fileStore({ path: join(dir, "outbox") }),
      });
      const got: number[] = [];
      const changes: SubscriptionStateChange[] = [];
      const sub = c.subscribe<number>("log", (m) => void got.push(m.data));
      sub.on("state", (change) => changes.push(change));
      await sub.ready;
      await waitFor(() => got.length >= expected, 5_000, `${expected} messages`);
      return { c, got, changes };
    };

    const first = await run(0);
    for (let n = 1; n <= 5; n++) backend.append(n);
    await waitFor(() => first.got.length === 5, 2_000, "five live messages");
    await first.c.close(); // a restart: the position is on disk
    for (let n = 6; n <= 9; n++) backend.append(n); // nobody listening

    const second = await run(4);
    expect(second.got).toEqual([6, 7, 8, 9]);
    expect(second.changes.find((change) => change.to === "subscribed")?.recovered).toBe(true);
    await second.c.close();

    backend.reset(); // the backend lost its history
    backend.append(100);
    const third = await run(0);
    expect(third.changes.find((change) => change.to === "subscribed")?.recovered).toBe(false);
    backend.append(101);
    await waitFor(() => third.got.length === 1, 2_000, "the next live message");
    expect(third.got).toEqual([101]);
    await third.c.close();
  });
});
