// Outbox store bench: file store (group commit + fsync) vs memory store, and file recovery time.
//
//   node bench/outbox-file.mjs [--n 10000] [--rounds 5] [--recover 100000] [--payload 100]
//                              [--stream 100000] [--window 1000] [--publish 20000]
//
// publish: the design budget itself: `publish` concurrent client.publish(qos 1) calls through
//         createClient over the in-process memory broker, with memoryStore() vs fileStore().
//         Every qos ≥ 1 publish is persisted before it is sent, so the store is on the path.
// burst:  N single-record puts issued at once (Promise.all), median of `rounds` after a warm-up.
// stream: `stream` single-record puts with `window` in flight, each completion issuing the next:
//         a publisher under sustained load, where fsync latency overlaps with new work.
// serial: awaited puts one after the other (no concurrency, so one fsync per put).
// recovery: a cold open + load() of a log holding `recover` records.
//
// Runs the TypeScript sources directly: esbuild (a devDependency via tsup/vitest) bundles them
// into a temp dir first, so no build of the package is needed.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const { values: args } = parseArgs({
  options: {
    n: { type: "string", default: "10000" },
    rounds: { type: "string", default: "5" },
    recover: { type: "string", default: "100000" },
    payload: { type: "string", default: "100" },
    stream: { type: "string", default: "100000" },
    window: { type: "string", default: "1000" },
    publish: { type: "string", default: "20000" },
  },
});
const N = Number(args.n);
const ROUNDS = Number(args.rounds);
const RECOVER = Number(args.recover);
const PAYLOAD = Number(args.payload);
const STREAM = Number(args.stream);
const WINDOW = Number(args.window);
const PUBLISH = Number(args.publish);

const root = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "gmq-bench-outbox-"));
// One bundle, so the client, the stores and the broker share one copy of the core.
await build({
  stdin: {
    contents: [
      'export { createClient, memoryStore } from "gmq";',
      'export { fileStore } from "./adapters/store-file/index.ts";',
      'export { createMemoryBroker } from "./adapters/testing/index.ts";',
    ].join("\n"),
    resolveDir: root,
    loader: "ts",
  },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  outfile: join(work, "lib.mjs"),
  // Adapters import the core as "gmq", like third-party adapters.
  alias: { gmq: join(root, "src/index.ts") },
  logLevel: "error",
});
const { createClient, createMemoryBroker, fileStore, memoryStore } = await import(
  pathToFileURL(join(work, "lib.mjs")).href
);

let seq = 0;
const payload = new Uint8Array(PAYLOAD).fill(7);
const record = () => {
  const n = seq++;
  return {
    id: `m-${String(n).padStart(12, "0")}`,
    topic: "chat/room1",
    payload,
    qos: 1,
    createdAt: Date.now(),
    headers: { "content-type": "application/json" },
  };
};

/** N concurrent single-record puts, as many publishes at once would issue them. */
async function concurrentPuts(store) {
  const batch = Array.from({ length: N }, record);
  const t0 = performance.now();
  await Promise.all(batch.map((r) => store.put([r])));
  return performance.now() - t0;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function run(name, open) {
  const times = [];
  let store;
  for (let round = 0; round <= ROUNDS; round++) {
    store = await open(round);
    await store.load();
    const ms = await concurrentPuts(store);
    if (round > 0) times.push(ms); // round 0 warms up the JIT
    if (round < ROUNDS) await store.close();
  }
  const ms = median(times);
  const perSec = (N / ms) * 1000;
  console.log(
    `${name.padEnd(7)} ${N} concurrent puts: median ${ms.toFixed(1)} ms  → ${Math.round(perSec)} puts/s`,
  );
  return { store, perSec };
}

console.log(`burst: ${N} concurrent single-record puts (${PAYLOAD} B payload)`);
const mem = await run("memory", () => memoryStore());
await mem.store.close();
const file = await run("file", (round) => fileStore({ path: join(work, `tp-${round}.log`) }));
const { fsyncs, writes } = file.store.stats;
console.log(`file    last round: ${writes} puts covered by ${fsyncs} fsyncs (group commit)`);
await file.store.close();
console.log(`burst  file/memory throughput: ${((file.perSec / mem.perSec) * 100).toFixed(1)} %`);

/** STREAM puts, WINDOW in flight at any time. */
async function stream(store) {
  await store.load();
  let issued = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (issued < STREAM) {
      issued++;
      await store.put([record()]);
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
  return (STREAM / (performance.now() - t0)) * 1000;
}
console.log(`stream: ${STREAM} single-record puts, ${WINDOW} in flight`);
const streamRates = {};
for (const [name, open] of [
  ["memory", () => memoryStore()],
  ["file", (i) => fileStore({ path: join(work, `stream-${i}.log`) })],
]) {
  const rates = [];
  for (let i = 0; i < 3; i++) {
    const store = open(i);
    rates.push(await stream(store));
    if (name === "file") {
      const s = store.stats;
      if (i === 2) console.log(`file    ${s.writes} puts covered by ${s.fsyncs} fsyncs`);
    }
    await store.close();
  }
  streamRates[name] = median(rates);
  console.log(`${name.padEnd(7)} ${Math.round(streamRates[name])} puts/s (median of 3)`);
}
console.log(`stream file/memory throughput: ${((streamRates.file / streamRates.memory) * 100).toFixed(1)} %`);

// Serial awaited puts: one fsync each, what group commit saves.
{
  const store = fileStore({ path: join(work, "serial.log") });
  await store.load();
  const count = 200;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await store.put([record()]);
  const ms = performance.now() - t0;
  console.log(`file    ${count} serial awaited puts: ${(ms / count).toFixed(2)} ms each (one fsync each)`);
  await store.close();
}

// Recovery: RECOVER queued records, then time a cold open + load.
{
  const path = join(work, "recover.log");
  const store = fileStore({ path });
  await store.load();
  for (let i = 0; i < RECOVER; i += 5000) {
    await store.put(Array.from({ length: Math.min(5000, RECOVER - i) }, record));
  }
  await store.close();
  const size = statSync(path).size;
  const times = [];
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    const reopened = fileStore({ path });
    const records = await reopened.load();
    times.push(performance.now() - t0);
    if (records.length !== RECOVER) throw new Error(`recovered ${records.length}, expected ${RECOVER}`);
    await reopened.close();
  }
  const mib = (size / 1024 / 1024).toFixed(1);
  console.log(
    `file    recovery of ${RECOVER} records (${mib} MiB): ${times.map((t) => t.toFixed(0)).join(" / ")} ms (open+load, 3 runs)`,
  );
}

// End to end: client.publish through the core's outbox, memory store vs file store.
{
  console.log(`publish: ${PUBLISH} concurrent client.publish(qos 1) over the memory broker`);
  const rates = {};
  for (const [name, open] of [
    ["memory", () => memoryStore()],
    ["file", (i) => fileStore({ path: join(work, `client-${i}.log`) })],
  ]) {
    const runs = [];
    for (let i = 0; i < 5; i++) {
      const client = createClient({ transport: createMemoryBroker().transport(), store: open(i) });
      client.on("error", () => {});
      await client.publish("warm/up", { i: -1 }, { qos: 1 });
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: PUBLISH }, (_, i) =>
          client.publish("chat/room1", { text: "hello", i }, { qos: 1 }),
        ),
      );
      runs.push((PUBLISH / (performance.now() - t0)) * 1000);
      await client.close();
    }
    rates[name] = median(runs);
    console.log(`${name.padEnd(7)} ${Math.round(rates[name])} publishes/s (median of 5)`);
  }
  console.log(
    `publish file/memory throughput: ${((rates.file / rates.memory) * 100).toFixed(1)} %  (budget ≥ 50 %)`,
  );
}

rmSync(work, { recursive: true, force: true });
