// gmq node throughput: push → pop → ack through gmq/gnode-http and gmq/gnode, each beside a
// hand-written client of the same interface, against one gnode emulator, in the same run.
//
//   npm run bench:gnode            (builds first)
//   node bench/gnode.mjs [--http 1000] [--tcp 10000] [--payload 64] [--rounds 7] [--warmup 3]
//                        [--only http|tcp]
//                        [--in-process] [--fresh-clients] [--from-source] [--json <file>]
//
// The emulator runs in a process of its own (bench/gnode-server.mjs), as a real node would: this
// process holds only the clients. `--in-process` runs it here instead (the method of the reports
// before 2026-12-01: the emulator's work then shares this thread and its CPU column).
//
// One round: a producer publishes N JSON messages of `payload` bytes while one consumer pops them
// (manual ack at the node) and acks each; the figure is N over the time from the first publish to
// the last ack answered by the node. gmq's producer and consumer clients live for the whole run,
// as an app's do (one pair per suite, on one topic); the hand-written clients hold no state worth
// keeping and set up a fresh topic each round, before the clock starts. Rounds alternate gmq /
// hand-written and start with each client in turn; the median is reported, after `warmup`
// full-size rounds of each (V8 compiles the clients' code during the first rounds: counted with
// --trace-opt, gmq's hot code settles after two or three). `--fresh-clients` makes a new gmq pair
// for every round instead (the method before 2026-12-02).
// - HTTP, gmq: client.publish (the outbox sends one /push at a time on a request-only transport)
//   and client.subscribe(…, { ack: "manual" }) (one /pop at a time, acks not awaited before the
//   next pop). Hand-written: a `fetch` loop doing exactly that: sequential /push with the same
//   `data` JSON, sequential /pop, /ack fired without waiting.
// - TCP, gmq: the outbox's batches (`mpub` of up to 1000, one at a time) on the command socket,
//   pops on their own socket, acks pipelined on the command socket. Hand-written: `node:net`
//   sockets, frames parsed by hand, `pop` on one socket, `ack` pipelined on the other, and the
//   publishes twice: as the same `mpub` batches (the same wire), and as `pub` lines pipelined
//   1000 deep (one reply per message, which costs the node more).
// Beside the rates, this process's CPU time (user + system) per message, median over the rounds:
// what the client side costs (with `--in-process`, the emulator's share too, the same for both).
// It moves less than the rates on a busy machine. `--from-source` bundles the sources with
// esbuild instead of loading dist/.
// Budget (DESIGN.md): each adapter ≥ 0.9× its hand-written client.
import { Buffer } from "node:buffer";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { fetchLoop, gmqClients, nextTopic, untilCount } from "./gnode-clients.mjs";
import { machineLine, median, printTable, startServerProcess, withCpu, writeJson } from "./mqtt-support.mjs";

const { values: args } = parseArgs({
  options: {
    http: { type: "string", default: "1000" },
    tcp: { type: "string", default: "10000" },
    payload: { type: "string", default: "64" },
    rounds: { type: "string", default: "7" },
    warmup: { type: "string", default: "3" },
    only: { type: "string" },
    "in-process": { type: "boolean", default: false },
    "fresh-clients": { type: "boolean", default: false },
    "from-source": { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const ROUNDS = Number(args.rounds);
const WARMUP = Number(args.warmup);
const VALUE = { text: "x".repeat(Math.max(0, Number(args.payload) - 11)) }; // JSON of `payload` bytes

const ENTRIES = ["index.js", "gnode-http.js", "gnode.js", "testing.js"];
const { dir, cleanup } = args["from-source"]
  ? await bundleSources()
  : { dir: fileURLToPath(new URL("../dist/", import.meta.url)), cleanup: () => {} };
const [{ createClient }, { gnodeHttp }, { gnode }, { startGnode }] = await Promise.all(
  ENTRIES.map((name) => import(pathToFileURL(join(dir, name)).href)),
);

/** The sources bundled like dist (the core one shared module), into a temp dir under .tmp/. */
async function bundleSources() {
  const { build } = await import("esbuild");
  const root = fileURLToPath(new URL("..", import.meta.url));
  mkdirSync(join(root, ".tmp"), { recursive: true });
  const out = mkdtempSync(join(root, ".tmp", "bench-gnode-"));
  await build({
    entryPoints: {
      index: join(root, "src/index.ts"),
      "gnode-http": join(root, "adapters/gnode-http/index.ts"),
      gnode: join(root, "adapters/gnode/index.ts"),
      testing: join(root, "adapters/testing/index.ts"),
    },
    outdir: out,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: ["gmq", "etcd3", "mqtt", "aedes", "ws", "isomorphic-ws", "eventemitter3", "idb-keyval"],
    logLevel: "error",
  });
  for (const name of ENTRIES.slice(1)) {
    const file = join(out, name);
    writeFileSync(file, readFileSync(file, "utf8").replaceAll(/from\s*"gmq"/g, 'from "./index.js"'));
  }
  writeFileSync(join(out, "package.json"), '{"type":"module"}');
  return { dir: out, cleanup: () => rmSync(out, { recursive: true, force: true }) };
}

/** Runs one round; returns its rate (msg/s) and the process's CPU µs per message. */
async function round(run, n) {
  const { rate, cpuMs } = await withCpu(async () => ({ rate: await run(n) }));
  return { rate, cpuUs: (cpuMs * 1000) / n };
}

const node = args["in-process"] ? await startGnode() : await startGnodeProcess();

/** The emulator in a child process: its addresses now, its incidents when it is closed. */
async function startGnodeProcess() {
  const server = await startServerProcess(fileURLToPath(new URL("./gnode-server.mjs", import.meta.url)), [
    dir,
  ]);
  const node = { ...server.ready, incidents: [] };
  node.close = async () => {
    const closing = server.read();
    const stopped = server.stop();
    node.incidents = (await closing).incidents;
    await stopped;
  };
  return node;
}
// ------------------------------------------------------------------------------------------------
// TCP (the HTTP clients are in gnode-clients.mjs)

/** A hand-written gnode TCP connection: lines out, frames in, replies in order. */
function rawSocket() {
  const socket = connect(node.tcpPort, "127.0.0.1");
  socket.setNoDelay(true);
  const waiting = [];
  let rest = Buffer.alloc(0);
  socket.on("data", (chunk) => {
    let data = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    while (data.length >= 6) {
      const type = data.readUInt16BE(0);
      const length = data.readUInt32BE(2);
      if (data.length < 6 + length) break;
      const payload = data.subarray(6, 6 + length);
      data = data.subarray(6 + length);
      if (type !== 105) waiting.shift()(type, payload);
    }
    rest = data;
  });
  /** One command line and its items (Buffers), each item as `[u32 BE length][bytes]`, in one
   *  write. */
  const send = (line, items = []) =>
    new Promise((resolve, reject) => {
      waiting.push((type, payload) =>
        type === 102 ? reject(new Error(payload.toString())) : resolve(payload),
      );
      const parts = [Buffer.from(`${line}\n`)];
      for (const item of items) {
        const length = Buffer.allocUnsafe(4);
        length.writeUInt32BE(item.length);
        parts.push(length, item);
      }
      socket.write(parts.length === 1 ? parts[0] : Buffer.concat(parts));
    });
  return new Promise((resolve) =>
    socket.once("connect", () => resolve({ send, close: () => socket.destroy() })),
  );
}

async function rawTcp(n, batched) {
  const topic = nextTopic();
  const get = (path, params) =>
    fetch(`${node.httpUrl}${path}?${new URLSearchParams(params)}`).then((r) => r.json());
  await get("/config", { topic, isAutoAck: "0", mode: "1", msgTTR: "0", msgRetry: "0" });
  const [command, popper] = await Promise.all([rawSocket(), rawSocket()]);
  await command.send(`queue ${topic} default`);
  let acked = 0;
  const consume = async () => {
    for (let i = 0; i < n; i++) {
      const message = JSON.parse((await popper.send(`pop ${topic} default`)).toString());
      JSON.parse(message.body);
      void command.send(`ack ${message.id} ${topic} default`).then(() => acked++);
    }
  };
  const started = performance.now();
  const consuming = consume();
  // The same body gmq sends: a gmq-style envelope with an id.
  const body = (i) => `{"gmq":1,"id":"m${i}","t":${JSON.stringify(JSON.stringify(VALUE))}}`;
  if (batched) {
    // mpub batches of up to 1000, one at a time (as gmq's outbox sends them).
    for (let i = 0; i < n; i += 1000) {
      const items = [];
      for (let k = i; k < Math.min(n, i + 1000); k++) {
        items.push(Buffer.from(JSON.stringify({ body: body(k), delay: 0, route_key: "" })));
      }
      const ids = `${await command.send(`mpub ${topic} ${items.length}`, items)}`.match(/\d+/g) ?? [];
      if (ids.length !== items.length) throw new Error(`mpub: ${ids.length} ids for ${items.length}`);
    }
  } else {
    const inFlight = new Set();
    for (let i = 0; i < n; i++) {
      const sent = command.send(`pub ${topic}  0`, [Buffer.from(body(i))]);
      inFlight.add(sent);
      void sent.then(() => inFlight.delete(sent));
      if (inFlight.size >= 1000) await Promise.race(inFlight);
    }
  }
  await consuming;
  await untilCount(() => acked, n);
  const rate = (n / (performance.now() - started)) * 1000;
  command.close();
  popper.close();
  return rate;
}

// ------------------------------------------------------------------------------------------------

const fresh = args["fresh-clients"];
const gmqHttp = () =>
  gmqClients({
    createClient,
    transport: () => gnodeHttp({ url: node.httpUrl }),
    subscribeOptions: { ack: "manual" },
    value: VALUE,
    fresh,
  });
const gmqTcp = () =>
  gmqClients({
    createClient,
    transport: () => gnode({ nodes: { tcp: `127.0.0.1:${node.tcpPort}`, http: node.httpUrl } }),
    subscribeOptions: { ack: "manual", maxBuffered: 1000 },
    value: VALUE,
    fresh,
  });
const suites = [
  {
    key: "http",
    name: "HTTP (gmq/gnode-http vs fetch loop)",
    n: Number(args.http),
    gmq: gmqHttp(),
    raw: fetchLoop({ url: node.httpUrl, value: VALUE }),
  },
  {
    key: "tcp",
    name: "TCP (gmq/gnode vs node:net client, mpub batches)",
    n: Number(args.tcp),
    gmq: gmqTcp(),
    raw: (n) => rawTcp(n, true),
  },
  {
    key: "tcp",
    name: "TCP (gmq/gnode vs node:net client, pub pipeline)",
    n: Number(args.tcp),
    gmq: gmqTcp(),
    raw: (n) => rawTcp(n, false),
  },
].filter((suite) => !args.only || suite.key === args.only);
console.log(`gnode push → pop → ack throughput, against the gnode emulator (${machineLine()})`);
console.log(
  args["in-process"]
    ? "the emulator in this process: the CPU columns include its share"
    : "the emulator in a process of its own: the CPU columns are the clients' process only",
);
console.log(
  args["fresh-clients"]
    ? "gmq: a fresh producer and consumer client for every round"
    : "gmq: one producer and one consumer client per suite, for the whole run",
);
console.log(
  `${ROUNDS} alternating rounds after ${WARMUP} full-size warm-up rounds of each, median; payload ${JSON.stringify(VALUE).length} B JSON\n`,
);
const rows = [];
for (const suite of suites) {
  for (let w = 0; w < WARMUP; w++) {
    await suite.gmq(suite.n);
    await suite.raw(suite.n);
  }
  const gmqRounds = [];
  const rawRounds = [];
  // Each round starts with the other client than the last, so neither is always measured first
  // (after the other's garbage and the emulator's growing topic table).
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 1) rawRounds.push(await round(suite.raw, suite.n));
    gmqRounds.push(await round(suite.gmq, suite.n));
    if (r % 2 === 0) rawRounds.push(await round(suite.raw, suite.n));
  }
  const g = median(gmqRounds.map((x) => x.rate));
  const h = median(rawRounds.map((x) => x.rate));
  await suite.gmq.close();
  const gCpu = median(gmqRounds.map((x) => x.cpuUs));
  const hCpu = median(rawRounds.map((x) => x.cpuUs));
  rows.push({
    interface: suite.name,
    messages: suite.n,
    "gmq msg/s": Math.round(g),
    "hand-written msg/s": Math.round(h),
    ratio: (g / h).toFixed(2),
    "budget ≥ 0.9": g / h >= 0.9 ? "PASS" : "FAIL",
    "gmq CPU µs/msg": gCpu.toFixed(1),
    "hand-written CPU µs/msg": hCpu.toFixed(1),
    "rounds gmq/hand-written msg/s": gmqRounds
      .map((x, i) => `${Math.round(x.rate)}/${Math.round(rawRounds[i].rate)}`)
      .join(" "),
  });
}
printTable(rows);
await node.close();
expectNoIncidents();
const { json, "from-source": fromSource, ...params } = args;
writeJson(json, "gnode", { ...params, source: fromSource ? "src" : "dist" }, { rows });
cleanup();

function expectNoIncidents() {
  if (node.incidents.length > 0) {
    console.error("the emulator logged incidents (a real node would have crashed):", node.incidents);
    process.exitCode = 1;
  }
}
