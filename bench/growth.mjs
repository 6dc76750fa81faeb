// Cost growth: the same figures at 1×, 10× and 100× load, as cost per unit, so that anything
// worse than linear shows as a per-unit cost that climbs.
//
//   node bench/growth.mjs [--messages 20000] [--rounds 3] [--n 5000] [--from-source] [--json <file>]
//
// subscriptions: 10 / 100 / 1000 subscriptions (`bench/<i>/+`) on one client; `messages`
//   inbound messages, each matching one of them, pushed straight into the client by a stub
//   transport: the client's routing cost per message, without any network.
// queued records: 1k / 10k / 100k publishes while offline, then connect and flush, with the
//   memory and the file store over a stub transport that accepts every publish at once: the
//   outbox's cost per record (and the store's), without any network.
// payload: 256 B / 2.5 KB / 25 KB, `n` messages: gmq publish (QoS 1, acked) over the mqtt
//   adapter on the embedded aedes broker (MQTT 3.1.1 + envelope) vs raw mqtt.js in the same run,
//   and offline enqueue into the file store; cost per message and per KB.
//
// Measures the built package (dist/, `npm run build`); --from-source bundles src/ instead.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import mqttjs from "mqtt";
import { loadPackage, machineLine, median, pollUntil, printTable, writeJson } from "./mqtt-support.mjs";

const { values: args } = parseArgs({
  options: {
    messages: { type: "string", default: "20000" },
    rounds: { type: "string", default: "3" },
    n: { type: "string", default: "5000" },
    "from-source": { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const MESSAGES = Number(args.messages);
const ROUNDS = Number(args.rounds);
const N = Number(args.n);

const { core, adapter, testing, storeFile, source, cleanup } = await loadPackage(args["from-source"]);
const { createClient, bytesCodec, memoryStore } = core;
const { fileStore } = storeFile;
const work = mkdtempSync(join(tmpdir(), "gmq-bench-growth-"));
let logs = 0;
const STORES = { memory: () => memoryStore(), file: () => fileStore({ path: join(work, `${++logs}.log`) }) };
const results = {};

/** Median of `ROUNDS` runs after one warm-up run. */
async function medianOf(run) {
  await run();
  const values = [];
  for (let i = 0; i < ROUNDS; i++) values.push(await run());
  return median(values);
}

const growth = (cost, base) => `${(cost / base).toFixed(2)}x`;

/** A transport with no network: subscribes and publishes succeed at once; `push` delivers. */
function stubTransport() {
  let sink;
  return {
    name: "stub",
    capabilities: {
      connection: "link",
      inbound: "routed",
      wildcards: true,
      requestReply: false,
      ack: false,
      delay: false,
      binary: true,
      queues: false,
      headers: true,
      retain: false,
    },
    async connect(s) {
      sink = s;
    },
    async disconnect() {},
    async publish() {},
    async subscribe() {},
    async unsubscribe() {},
    push: (message) => sink.onMessage(message),
  };
}

// ── subscriptions ────────────────────────────────────────────────────────────────────────────
{
  const rows = [];
  let base;
  const body = new Uint8Array(64).fill(1);
  for (const count of [10, 100, 1000]) {
    const transport = stubTransport();
    const client = createClient({ transport, codec: bytesCodec, dedupWindow: 10_000 });
    let received = 0;
    let target = 0;
    let done = () => {};
    const subs = Array.from({ length: count }, (_, i) =>
      client.subscribe(`bench/${i}/+`, () => {
        if (++received === target) done();
      }),
    );
    await client.connect();
    await Promise.all(subs.map((s) => s.ready));
    let seq = 0;
    const perMessage = await medianOf(async () => {
      received = 0;
      target = MESSAGES;
      const all = new Promise((resolve) => {
        done = resolve;
      });
      const started = performance.now();
      for (let i = 0; i < MESSAGES; i++)
        transport.push({ topic: `bench/${i % count}/x`, payload: body, id: `m-${++seq}`, qos: 1 });
      await all;
      return ((performance.now() - started) * 1000) / MESSAGES;
    });
    await client.close();
    base ??= perMessage;
    rows.push({
      subscriptions: count,
      load: `${count / 10}x`,
      "µs/message": perMessage.toFixed(3),
      "msg/s": Math.round(1e6 / perMessage),
      "per-message cost vs 1x": growth(perMessage, base),
    });
  }
  results.subscriptions = rows;
  console.log(
    `\nsubscriptions: ${MESSAGES} inbound messages (64 B, each matching one subscription), stub transport, median of ${ROUNDS}`,
  );
  printTable(rows);
}

// ── queued records ───────────────────────────────────────────────────────────────────────────
{
  const rows = [];
  const payload = new Uint8Array(256).fill(7);
  for (const kind of ["memory", "file"]) {
    let base;
    for (const count of [1000, 10_000, 100_000]) {
      const runs = [];
      const once = async () => {
        const client = createClient({
          transport: stubTransport(),
          store: STORES[kind](),
          codec: bytesCodec,
          autoConnect: false,
          outbox: { maxCount: 10_000_000, maxBytes: 2 ** 31 },
        });
        client.on("error", () => {});
        let started = performance.now();
        await Promise.all(Array.from({ length: count }, () => client.publish("bench/queue", payload)));
        const enqueue = performance.now() - started;
        started = performance.now();
        await client.connect();
        await pollUntil(() => client.outboxStats().count === 0, 120_000, `${count} records to flush`);
        const flush = performance.now() - started;
        await client.close();
        return { enqueue, flush };
      };
      // 100k takes long enough on its own: no warm-up, one round fewer.
      const rounds = count >= 100_000 ? Math.max(1, ROUNDS - 1) : ROUNDS;
      if (count < 100_000) await once();
      for (let i = 0; i < rounds; i++) runs.push(await once());
      const enqueue = (median(runs.map((r) => r.enqueue)) * 1000) / count;
      const flush = (median(runs.map((r) => r.flush)) * 1000) / count;
      base ??= { enqueue, flush };
      rows.push({
        store: kind,
        records: count,
        load: `${count / 1000}x`,
        "enqueue µs/record": enqueue.toFixed(2),
        "vs 1x": growth(enqueue, base.enqueue),
        "flush µs/record": flush.toFixed(2),
        "flush vs 1x": growth(flush, base.flush),
      });
    }
  }
  results.queue = rows;
  console.log(
    `\nqueued records: publish N (256 B) while offline, then connect and flush; stub transport, median of ${ROUNDS} (${Math.max(1, ROUNDS - 1)} at 100k)`,
  );
  printTable(rows);
}

// ── payload size ─────────────────────────────────────────────────────────────────────────────
const broker = await testing.startBroker();
try {
  const rows = [];
  let base;
  const gmq = createClient({
    transport: adapter.mqtt({ url: broker.tcpUrl, envelope: true, protocolVersion: 4 }),
    codec: bytesCodec,
    outbox: { maxBytes: 2 ** 31 }, // in-flight records count too: 5000 × 25 KB > the 64 MiB default
  });
  await gmq.connect();
  const raw = await mqttjs.connectAsync(broker.tcpUrl, { protocolVersion: 4, reconnectPeriod: 0 });
  raw.stream.setNoDelay?.(true); // as the gmq adapter does

  const rawRun = (payload) =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      let sent = 0;
      let done = 0;
      const next = () => {
        while (sent < N && sent - done < 1000) {
          sent++;
          raw.publish("bench/payload", payload, { qos: 1 }, (error) => {
            if (error) reject(error);
            else if (++done === N) resolve(performance.now() - started);
            else next();
          });
        }
      };
      next();
    });
  const gmqRun = async (payload) => {
    const started = performance.now();
    await Promise.all(Array.from({ length: N }, () => gmq.publish("bench/payload", payload)));
    return performance.now() - started;
  };
  const fileRun = async (payload) => {
    const client = createClient({
      transport: stubTransport(),
      store: STORES.file(),
      codec: bytesCodec,
      autoConnect: false,
      outbox: { maxCount: 10_000_000, maxBytes: 2 ** 31 },
    });
    const started = performance.now();
    await Promise.all(Array.from({ length: N }, () => client.publish("bench/payload", payload)));
    const ms = performance.now() - started;
    await client.close();
    return ms;
  };

  for (const bytes of [256, 2560, 25_600]) {
    const payload = new Uint8Array(bytes).fill(7);
    const buffer = Buffer.from(payload);
    const rawMs = await medianOf(() => rawRun(buffer));
    const gmqMs = await medianOf(() => gmqRun(payload));
    const fileMs = await medianOf(() => fileRun(payload));
    const kb = bytes / 1024;
    const cost = { gmq: (gmqMs * 1000) / N, raw: (rawMs * 1000) / N, file: (fileMs * 1000) / N };
    base ??= cost;
    rows.push({
      payload: `${bytes} B`,
      load: `${bytes / 256}x`,
      "raw µs/msg": cost.raw.toFixed(2),
      "gmq µs/msg": cost.gmq.toFixed(2),
      "gmq/raw rate": `${((cost.raw / cost.gmq) * 100).toFixed(1)}%`,
      "gmq µs/KB": (cost.gmq / kb).toFixed(2),
      "gmq vs 1x": growth(cost.gmq, base.gmq),
      "file enqueue µs/msg": cost.file.toFixed(2),
      "file µs/KB": (cost.file / kb).toFixed(2),
      "file vs 1x": growth(cost.file, base.file),
    });
  }
  await gmq.close();
  await raw.endAsync(true);
  results.payload = rows;
  console.log(
    `\npayload: ${N} QoS 1 publishes until acked on aedes (gmq: MQTT 3.1.1 + envelope; raw: 1000 in flight), and ${N} offline enqueues into the file store; median of ${ROUNDS}`,
  );
  printTable(rows);
} finally {
  await broker.close();
  rmSync(work, { recursive: true, force: true });
  cleanup();
}

console.log(`\nCost growth; package from ${source}; ${machineLine()}`);
writeJson(args.json, "growth", { messages: MESSAGES, rounds: ROUNDS, n: N, source }, results);
