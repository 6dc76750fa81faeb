// The outbox: enqueue throughput per store, flush rate after a reconnect, and recovery time.
//
//   node bench/outbox.mjs [--n 20000] [--rounds 5] [--payload 256] [--flush 20000]
//                         [--recover 100000] [--browser-n 5000] [--no-browser] [--from-source]
//                         [--json <file>]
//
// enqueue:  `n` concurrent client.publish(qos 1) on a client that is not connected
//           (autoConnect: false), so every publish resolves "queued" once its store has it:
//           memory store vs file store (group commit + fsync), median of `rounds` after a
//           warm-up. One publish first opens the store (reported as "open + first publish"),
//           so the rate is publishing, not the one-off open; then a full GC, so every round
//           pays for its own garbage only. Target (DESIGN.md): file ≥ 50 % of memory.
// browser:  the same in headless Chromium (/usr/bin/chromium), memory vs IndexedDB store, on a
//           page bundled from the sources (bench/outbox-page.mjs); skipped when not installed.
// flush:    `flush` records queued while the embedded aedes broker is down (mqtt adapter,
//           envelope, MQTT 3.1.1); the broker restarts; time until the outbox is empty (every
//           record PUBACKed). Baseline: raw mqtt.js publishing as many QoS 1 messages with
//           1000 in flight (gmq's maxInFlight) on the same broker.
// recovery: a file log holding `recover` records: cold open + load() of the store, and
//           createClient → `await client.connect()` (which resolves once the outbox is read
//           back). Baseline: reading the log's bytes with fs.readFile. Target: < 1 s.
//
// Measures the built package (dist/, `npm run build`); --from-source bundles src/ instead.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import v8 from "node:v8";
import vm from "node:vm";
import mqttjs from "mqtt";
import { bundlePage, hasChromium, launchChromium, serveStatic, tempDir } from "./browser-support.mjs";
import { loadPackage, machineLine, median, pollUntil, printTable, writeJson } from "./mqtt-support.mjs";

const { values: args } = parseArgs({
  options: {
    n: { type: "string", default: "20000" },
    rounds: { type: "string", default: "5" },
    payload: { type: "string", default: "256" },
    flush: { type: "string", default: "20000" },
    recover: { type: "string", default: "100000" },
    "browser-n": { type: "string", default: "5000" },
    "no-browser": { type: "boolean", default: false },
    "from-source": { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const N = Number(args.n);
const ROUNDS = Number(args.rounds);
const PAYLOAD = Number(args.payload);
const FLUSH = Number(args.flush);
const RECOVER = Number(args.recover);
const BROWSER_N = Number(args["browser-n"]);
const RECOVERY_TARGET_MS = 1000;

const { core, adapter, testing, storeFile, source, cleanup } = await loadPackage(args["from-source"]);
const { createClient, createIdGenerator, bytesCodec, memoryStore } = core;
const { fileStore } = storeFile;
const work = mkdtempSync(join(tmpdir(), "gmq-bench-outbox-"));
const payload = new Uint8Array(PAYLOAD).fill(7);
const perSec = (n, ms) => Math.round((n / ms) * 1000);
const pct = (ratio) => `${(ratio * 100).toFixed(1)}%`;
const verdict = (ok) => (ok ? "PASS" : "FAIL");
let fileCounter = 0;
const newLog = () => join(work, `log-${++fileCounter}.log`);
const STORES = { memory: () => memoryStore(), file: () => fileStore({ path: newLog() }) };
const mqttOptions = (url) => ({ url, envelope: true, protocolVersion: 4 });
const results = {};
const targets = [];
// Every enqueue round starts from a collected heap. Otherwise the garbage of earlier rounds (a
// closed client's 20,000 records, and the memory store's "closed" drop errors) is collected in
// whichever round first yields to the event loop: always a file round, as the memory store
// resolves in microtasks. File rounds then alternated between ~2.0 and ~3.0 µs/publish.
v8.setFlagsFromString("--expose-gc");
const collectGarbage = vm.runInNewContext("gc");

// ── enqueue: client.publish while offline ─────────────────────────────────────────────────────
async function enqueueRound(kind, n) {
  const store = STORES[kind]();
  const client = createClient({
    transport: adapter.mqtt(mqttOptions("mqtt://127.0.0.1:9")), // never dialled
    store,
    codec: bytesCodec,
    autoConnect: false,
    outbox: { maxCount: 10_000_000 },
  });
  client.on("error", () => {});
  // Opening the store (for the file store: lock, header, fsyncs) is a one-off, not a cost per
  // publish: one publish opens it before the clock starts, for both stores alike.
  const openStarted = performance.now();
  await client.publish("bench/outbox", payload);
  const openMs = performance.now() - openStarted;
  const fsyncsBefore = store.stats?.fsyncs ?? 0;
  collectGarbage();
  const started = performance.now();
  const all = await Promise.all(Array.from({ length: n }, () => client.publish("bench/outbox", payload)));
  const ms = performance.now() - started;
  const queued = all.filter((r) => r.status === "queued").length;
  if (queued !== n || client.outboxStats().count !== n + 1) throw new Error(`${kind}: ${queued}/${n} queued`);
  // File store: how many fsyncs group commit needed for the N publishes.
  const fsyncs = store.stats ? store.stats.fsyncs - fsyncsBefore : undefined;
  await client.close();
  return { ms, fsyncs, openMs };
}

{
  await enqueueRound("memory", Math.ceil(N / 10));
  await enqueueRound("file", Math.ceil(N / 10));
  const times = { memory: [], file: [] };
  for (let round = 0; round < ROUNDS; round++)
    for (const kind of ["memory", "file"]) times[kind].push(await enqueueRound(kind, N));
  const memoryRate = perSec(N, median(times.memory.map((r) => r.ms)));
  const rows = ["memory", "file"].map((kind) => {
    const rate = perSec(N, median(times[kind].map((r) => r.ms)));
    return {
      store: kind,
      "publishes/s": rate,
      "µs/publish": (1e6 / rate).toFixed(2),
      "vs memory": pct(rate / memoryRate),
      fsyncs: kind === "file" ? median(times.file.map((r) => r.fsyncs)) : "",
      "open + first publish ms": median(times[kind].map((r) => r.openMs)).toFixed(1),
    };
  });
  results.enqueue = rows;
  const ratio = rows[1]["publishes/s"] / memoryRate;
  targets.push({
    what: "durable (file) publish throughput vs memory",
    target: "≥ 50%",
    measured: pct(ratio),
    result: verdict(ratio >= 0.5),
  });
  console.log(
    `\nenqueue: ${N} concurrent client.publish(qos 1) while offline, ${PAYLOAD} B, median of ${ROUNDS}`,
  );
  printTable(rows);
}

// ── browser: the same in Chromium, memory vs IndexedDB ────────────────────────────────────────
if (args["no-browser"]) console.log("\nbrowser: skipped (--no-browser)");
else if (!hasChromium()) console.log("\nbrowser: skipped (/usr/bin/chromium not found)");
else {
  const pageDir = tempDir("bench-page-");
  const here = fileURLToPath(new URL(".", import.meta.url));
  await bundlePage(join(here, "outbox-page.mjs"), pageDir.dir);
  const html =
    '<!doctype html><meta charset="utf-8"><title>loading</title><script type="module" src="/outbox-page.js"></script>';
  const server = await serveStatic({ dirs: [pageDir.dir], generated: { "/index.html": html } });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(120_000);
    await page.goto(server.url);
    await page.waitForFunction(() => document.title === "ready");
    const version = browser.version();
    const run = (kind, n, name) =>
      page.evaluate(
        ([k, count, bytes, db]) => window.bench.enqueue(k, count, bytes, db),
        [kind, n, PAYLOAD, name],
      );
    await run("memory", Math.ceil(BROWSER_N / 10), "warm-m");
    await run("indexeddb", Math.ceil(BROWSER_N / 10), "warm-i");
    const times = { memory: [], indexeddb: [] };
    let transactions = 0;
    for (let round = 0; round < ROUNDS; round++)
      for (const kind of ["memory", "indexeddb"]) {
        const r = await run(kind, BROWSER_N, `round-${round}`);
        if (r.queued !== BROWSER_N || r.count !== BROWSER_N) throw new Error(`${kind}: ${r.queued} queued`);
        if (kind === "indexeddb" && !r.durable) throw new Error("IndexedDB store fell back to memory");
        if (kind === "indexeddb") transactions = r.transactions;
        times[kind].push(r.ms);
      }
    const memoryRate = perSec(BROWSER_N, median(times.memory));
    results.browser = ["memory", "indexeddb"].map((kind) => {
      const rate = perSec(BROWSER_N, median(times[kind]));
      return {
        store: kind,
        "publishes/s": rate,
        "µs/publish": (1e6 / rate).toFixed(2),
        "vs memory": pct(rate / memoryRate),
      };
    });
    results.browserVersion = `Chromium ${version}`;
    console.log(
      `\nbrowser: Chromium ${version}, ${BROWSER_N} concurrent publishes while offline, ${PAYLOAD} B, median of ${ROUNDS} (last IndexedDB round: ${transactions} transactions)`,
    );
    printTable(results.browser);
  } finally {
    await browser.close();
    await server.close();
    pageDir.remove();
  }
}

// ── flush: N queued while the broker is down, then it comes back ──────────────────────────────
const broker = await testing.startBroker();
try {
  const topic = `bench/flush/${process.pid}`;
  let received = 0;
  broker.aedes.on("publish", (packet, client) => {
    if (client && packet.topic === topic) received++;
  });

  async function flushRound(kind) {
    await broker.stop();
    const client = createClient({
      transport: adapter.mqtt(mqttOptions(broker.tcpUrl)),
      store: STORES[kind](),
      codec: bytesCodec,
      reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
      outbox: { maxCount: 10_000_000 },
    });
    client.on("error", () => {});
    let connectedAt = 0;
    client.on("state", ({ to }) => {
      if (to === "connected") connectedAt = performance.now();
    });
    await Promise.all(Array.from({ length: FLUSH }, () => client.publish(topic, payload)));
    if (client.outboxStats().count !== FLUSH) throw new Error(`${kind}: not all ${FLUSH} queued`);
    received = 0;
    const restarted = performance.now();
    await broker.restart();
    await pollUntil(() => client.outboxStats().count === 0, 120_000, `${kind} outbox to empty`);
    const emptied = performance.now();
    await pollUntil(() => received >= FLUSH, 10_000, "broker to see every message");
    await client.close();
    return { fromRestart: emptied - restarted, flush: emptied - connectedAt, received };
  }

  async function rawRound() {
    const raw = await mqttjs.connectAsync(broker.tcpUrl, { protocolVersion: 4, reconnectPeriod: 0 });
    raw.stream.setNoDelay?.(true); // as the gmq adapter does
    received = 0;
    const started = performance.now();
    await new Promise((resolve, reject) => {
      let sent = 0;
      let done = 0;
      const next = () => {
        while (sent < FLUSH && sent - done < 1000) {
          sent++;
          raw.publish(topic, Buffer.from(payload), { qos: 1 }, (error) => {
            if (error) reject(error);
            else if (++done === FLUSH) resolve();
            else next();
          });
        }
      };
      next();
    });
    const ms = performance.now() - started;
    await raw.endAsync(true);
    return ms;
  }

  await rawRound();
  await flushRound("memory");
  const runs = { raw: [], memory: [], file: [] };
  for (let round = 0; round < 3; round++) {
    runs.raw.push(await rawRound());
    for (const kind of ["memory", "file"]) {
      const r = await flushRound(kind);
      if (r.received < FLUSH) throw new Error(`${kind}: broker saw ${r.received}/${FLUSH}`);
      runs[kind].push(r);
    }
  }
  const rawRate = perSec(FLUSH, median(runs.raw));
  results.flush = [
    {
      sender: "raw mqtt.js (baseline)",
      "msg/s": rawRate,
      "flush ms": median(runs.raw).toFixed(0),
      "restart→empty ms": "",
      "vs raw": "100.0%",
    },
    ...["memory", "file"].map((kind) => {
      const flush = median(runs[kind].map((r) => r.flush));
      return {
        sender: `gmq, ${kind} store`,
        "msg/s": perSec(FLUSH, flush),
        "flush ms": flush.toFixed(0),
        "restart→empty ms": median(runs[kind].map((r) => r.fromRestart)).toFixed(0),
        "vs raw": pct(perSec(FLUSH, flush) / rawRate),
      };
    }),
  ];
  console.log(
    `\nflush: ${FLUSH} records queued while aedes was down (MQTT 3.1.1, envelope), ${PAYLOAD} B, median of 3; "flush" runs from the "connected" event to an empty outbox`,
  );
  printTable(results.flush);

  // ── recovery: a log of RECOVER records ──────────────────────────────────────────────────────
  const log = join(work, "recover.log");
  {
    const store = fileStore({ path: log });
    await store.load();
    const nextId = createIdGenerator();
    const topicName = "bench/recover";
    for (let i = 0; i < RECOVER; i += 5000) {
      const batch = Array.from({ length: Math.min(5000, RECOVER - i) }, () => ({
        id: nextId(),
        topic: topicName,
        payload,
        qos: 1,
        createdAt: Date.now(),
      }));
      await store.put(batch);
    }
    await store.close();
  }
  const mib = (statSync(log).size / 1024 / 1024).toFixed(1);
  const readRuns = [];
  const storeRuns = [];
  const clientRuns = [];
  for (let round = 0; round < 3; round++) {
    let started = performance.now();
    readFileSync(log);
    readRuns.push(performance.now() - started);

    started = performance.now();
    const store = fileStore({ path: log });
    const records = await store.load();
    storeRuns.push(performance.now() - started);
    await store.close();
    if (records.length !== RECOVER) throw new Error(`recovered ${records.length}/${RECOVER}`);

    // The client flushes what it loads: give it a fresh copy each time.
    const copy = newLog();
    copyFileSync(log, copy);
    started = performance.now();
    const client = createClient({
      transport: adapter.mqtt(mqttOptions(broker.tcpUrl)),
      store: fileStore({ path: copy }),
      codec: bytesCodec,
      outbox: { maxCount: 10_000_000 },
    });
    client.on("error", () => {});
    await client.connect({ timeoutMs: 60_000 });
    clientRuns.push(performance.now() - started);
    const loaded = client.outboxStats().count;
    await client.close();
    if (loaded < RECOVER * 0.9) throw new Error(`connect() resolved with ${loaded} records loaded`);
  }
  const read = median(readRuns);
  results.recovery = [
    {
      what: "fs.readFile of the log (baseline)",
      "median ms": read.toFixed(1),
      runs: fmtRuns(readRuns),
      "vs read": "1.0x",
    },
    {
      what: "fileStore open + load()",
      "median ms": median(storeRuns).toFixed(1),
      runs: fmtRuns(storeRuns),
      "vs read": `${(median(storeRuns) / read).toFixed(1)}x`,
    },
    {
      what: "createClient → await connect()",
      "median ms": median(clientRuns).toFixed(1),
      runs: fmtRuns(clientRuns),
      "vs read": `${(median(clientRuns) / read).toFixed(1)}x`,
    },
  ];
  console.log(`\nrecovery: ${RECOVER} records of ${PAYLOAD} B (${mib} MiB log), 3 runs`);
  printTable(results.recovery);
  targets.push(
    {
      what: `recovery of ${RECOVER} records: store open + load`,
      target: "< 1 s",
      measured: `${median(storeRuns).toFixed(0)} ms`,
      result: verdict(median(storeRuns) < RECOVERY_TARGET_MS),
    },
    {
      what: `recovery of ${RECOVER} records: createClient → connect()`,
      target: "< 1 s",
      measured: `${median(clientRuns).toFixed(0)} ms`,
      result: verdict(median(clientRuns) < RECOVERY_TARGET_MS),
    },
  );
  results.recoveryLogMiB = Number(mib);
} finally {
  await broker.close();
  rmSync(work, { recursive: true, force: true });
  cleanup();
}

console.log(`\nOutbox targets (DESIGN.md); package from ${source}; ${machineLine()}\n`);
printTable(targets);
writeJson(
  args.json,
  "outbox",
  { n: N, rounds: ROUNDS, payload: PAYLOAD, flush: FLUSH, recover: RECOVER, browserN: BROWSER_N, source },
  { ...results, targets },
);

function fmtRuns(runs) {
  return runs.map((ms) => ms.toFixed(0)).join(" / ");
}
