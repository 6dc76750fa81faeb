// The page bench/outbox.mjs drives in Chromium: offline enqueue through client.publish, with the
// memory store or the IndexedDB store, bundled from the sources (bench/browser-support.mjs).
import { bytesCodec, createClient, memoryStore } from "gmq";
import { mqtt } from "gmq/mqtt";
import { indexedDbStore } from "gmq/store-indexeddb";

/** `n` concurrent publishes on a client that never connects: every one goes to the outbox. */
async function enqueue(kind, n, payloadBytes, name) {
  const store = kind === "indexeddb" ? indexedDbStore({ name }) : memoryStore();
  const client = createClient({
    // Never dialled (autoConnect: false): the port is closed anyway.
    transport: mqtt({ url: "ws://127.0.0.1:9/mqtt", envelope: true, protocolVersion: 4 }),
    store,
    codec: bytesCodec,
    autoConnect: false,
    outbox: { maxCount: 10_000_000 },
  });
  client.on("error", () => {});
  const payload = new Uint8Array(payloadBytes).fill(7);
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: n }, () => client.publish("bench/outbox", payload)));
  const ms = performance.now() - started;
  const queued = results.filter((r) => r.status === "queued").length;
  const count = client.outboxStats().count;
  const durable = results[0]?.durable ?? false;
  await client.close();
  return { ms, queued, count, durable, transactions: store.transactions };
}

window.bench = { enqueue };
document.title = "ready";
