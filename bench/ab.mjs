// A/B: one measurement on two or more builds of the package (snapshots from bench/snapshot.mjs)
// and on raw mqtt.js, in alternating rounds on one Mosquitto (MQTT 5), to judge a change on a
// busy machine. Each figure is the median over the rounds; "paired" is the median of per-round
// ratios against the first build, which a load spike that slows a whole round does not move.
//
//   npm run build && node bench/snapshot.mjs .tmp/ab/before
//   (change something) npm run build && node bench/snapshot.mjs .tmp/ab/after
//   node bench/ab.mjs throughput .tmp/ab/before .tmp/ab/after [--qos 1] [--n 20000] [--rounds 9]
//   node bench/ab.mjs call .tmp/ab/before .tmp/ab/after [--calls 2000] [--rounds 9]
//
// throughput: one publisher and one subscriber per build, `n` × 256 B at `qos`, publish all then
//   wait until delivered (as bench/mqtt-throughput.mjs): msg/s and CPU µs per message (this
//   process: publisher and subscriber, not the broker).
// call: `calls` sequential calls of a 64 B echo (1 in flight): p50 ms and CPU µs per call.
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import mqttjs from "mqtt";
import { median, percentile, startMosquitto, waitUntil } from "./mqtt-support.mjs";

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    qos: { type: "string", default: "1" },
    n: { type: "string", default: "20000" },
    calls: { type: "string", default: "2000" },
    rounds: { type: "string", default: "9" },
  },
});
const [mode, ...dirs] = positionals;
if ((mode !== "throughput" && mode !== "call") || dirs.length === 0) {
  console.error("usage: node bench/ab.mjs throughput|call <snapshot dir>... [options]");
  process.exit(2);
}
const QOS = Number(args.qos);
const N = Number(args.n);
const CALLS = Number(args.calls);
const ROUNDS = Number(args.rounds);
const broker = await startMosquitto();
if (!broker) throw new Error("bench/ab.mjs needs Mosquitto (/usr/sbin/mosquitto)");

function rawConnect() {
  const client = mqttjs.connect(broker.url, { protocolVersion: 5, reconnectPeriod: 0, queueQoSZero: false });
  client.stream.setNoDelay?.(true);
  return new Promise((resolve, reject) => {
    client.once("connect", () => resolve(client));
    client.once("error", reject);
  });
}

/** Runs `work` and adds the CPU time it took (user + system µs) per `count`. */
async function timed(count, work) {
  const before = process.cpuUsage();
  const result = await work();
  const used = process.cpuUsage(before);
  return { ...result, cpu: (used.user + used.system) / count };
}

let topics = 0;
const payload = new Uint8Array(randomBytes(mode === "call" ? 64 : 256));

async function gmqVariant(dir) {
  const url = pathToFileURL(resolve(dir)).href;
  const [core, adapter] = await Promise.all([import(`${url}/index.js`), import(`${url}/mqtt.js`)]);
  const make = () =>
    core.createClient({
      transport: adapter.mqtt({ url: broker.url, protocolVersion: 5 }),
      codec: core.bytesCodec,
    });
  const [a, b] = [make(), make()];
  await Promise.all([a.connect(), b.connect()]);
  const close = () => Promise.all([a.close(), b.close()]);
  if (mode === "call") {
    b.handle("Bench", "echo", (body) => body);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the handler's subscription
    return { name: dir, call: (body) => a.call("Bench", "echo", body, { timeoutMs: 30_000 }), close };
  }
  const round = async (n) => {
    const topic = `bench/ab/${process.pid}/${++topics}`;
    let received = 0;
    const sub = b.subscribe(topic, () => void received++, { qos: QOS });
    await sub.ready;
    const started = performance.now();
    const all = new Array(n);
    for (let i = 0; i < n; i++) all[i] = a.publish(topic, payload, { qos: QOS });
    await Promise.all(all);
    await waitUntil(() => received >= n, 60_000, `${n} messages`);
    const ms = performance.now() - started;
    await sub.unsubscribe();
    return { rate: (n / ms) * 1000 };
  };
  return { name: dir, round, close };
}

async function rawVariant() {
  const [a, b] = [await rawConnect(), await rawConnect()];
  const close = async () => {
    a.end(true);
    b.end(true);
  };
  if (mode === "call") {
    b.on("message", (_topic, body, packet) => {
      const { responseTopic, correlationData } = packet.properties ?? {};
      b.publish(responseTopic, body, { qos: 1, properties: { correlationData } });
    });
    await b.subscribeAsync("bench/ab/raw-echo", { qos: 1 });
    const pending = new Map();
    a.on("message", (_topic, body, packet) => {
      const id = packet.properties?.correlationData?.readUInt32BE(0);
      pending.get(id)?.(body);
      pending.delete(id);
    });
    await a.subscribeAsync("bench/ab/raw-reply", { qos: 1 });
    let next = 0;
    const call = (body) =>
      new Promise((resolve, reject) => {
        const id = ++next >>> 0;
        pending.set(id, resolve);
        const correlationData = Buffer.allocUnsafe(4);
        correlationData.writeUInt32BE(id, 0);
        const properties = { responseTopic: "bench/ab/raw-reply", correlationData };
        a.publish("bench/ab/raw-echo", body, { qos: 1, properties }, (error) => error && reject(error));
      });
    return { name: "raw mqtt.js", call, close };
  }
  const round = async (n) => {
    const topic = `bench/ab/${process.pid}/${++topics}`;
    let received = 0;
    const onMessage = (t) => {
      if (t === topic) received++;
    };
    b.on("message", onMessage);
    await b.subscribeAsync(topic, { qos: QOS });
    const started = performance.now();
    await new Promise((resolve, reject) => {
      if (QOS === 0) {
        for (let i = 0; i < n; i++) a.publish(topic, payload, { qos: 0 });
        return resolve();
      }
      let sent = 0;
      let done = 0;
      const more = () => {
        while (sent < n && sent - done < 1000) {
          sent++;
          a.publish(topic, payload, { qos: QOS }, (error) => {
            if (error) return reject(error);
            if (++done === n) resolve();
            else more();
          });
        }
      };
      more();
    });
    await waitUntil(() => received >= n, 60_000, `${n} messages`);
    const ms = performance.now() - started;
    b.off("message", onMessage);
    await b.unsubscribeAsync(topic);
    return { rate: (n / ms) * 1000 };
  };
  return { name: "raw mqtt.js", round, close };
}

/** One round of a variant: throughput, or `count` sequential calls. */
async function measure(variant, count) {
  if (mode === "throughput") return timed(count, () => variant.round(count));
  return timed(count, async () => {
    const latencies = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      await variant.call(payload);
      latencies.push(performance.now() - started);
    }
    latencies.sort((x, y) => x - y);
    return { p50: percentile(latencies, 50) };
  });
}

const variants = [];
for (const dir of dirs) variants.push({ ...(await gmqVariant(dir)), results: [] });
variants.push({ ...(await rawVariant()), results: [] });
const count = mode === "call" ? CALLS : N;
try {
  for (const variant of variants) await measure(variant, Math.ceil(count / 10)); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const variant of variants) variant.results.push(await measure(variant, count));
  }
} finally {
  for (const variant of variants) await variant.close();
  await broker.close();
}

const figure = mode === "call" ? "p50" : "rate";
const first = variants[0].results;
const raw = variants.at(-1).results;
const paired = (results, base) => median(results.map((r, i) => r[figure] / base[i][figure]));
console.log(
  `\n${mode === "call" ? `${CALLS} sequential calls` : `${N} × 256 B at QoS ${QOS}`}, Mosquitto MQTT 5, ${ROUNDS} alternating rounds, medians\n`,
);
for (const { name, results } of variants) {
  const value = median(results.map((r) => r[figure]));
  console.log(
    [
      name.padEnd(24),
      mode === "call" ? `p50 ${value.toFixed(4)} ms` : `${Math.round(value)} msg/s`,
      `CPU ${median(results.map((r) => r.cpu)).toFixed(1)} µs/${mode === "call" ? "call" : "msg"}`,
      `paired vs first ${paired(results, first).toFixed(3)}`,
      `paired vs raw ${paired(results, raw).toFixed(3)}`,
    ].join("  "),
  );
}
