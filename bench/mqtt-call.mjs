// MQTT request/reply: gmq `call`/`handle` over the mqtt adapter vs a hand-written request/reply
// on raw mqtt.js, same broker, same run.
//
//   node bench/mqtt-call.mjs [--calls 3000] [--payload 64] [--concurrency 100] [--rounds 5]
//                            [--brokers aedes,mosquitto] [--from-source] [--json <file>]
//
// For each broker (embedded aedes 3.1.1, gmq with its envelope; Mosquitto 5 when installed):
// a responder client that echoes, and a caller client. Raw mqtt.js on MQTT 5 uses response topic
// + correlation data; on 3.1.1 a small binary frame (correlation id, reply topic, body), both at
// QoS 1 like gmq. Measured: `calls` sequential calls (1 in flight: p50/p99 round trip) and
// 3 × `calls` with `concurrency` in flight (calls/s, p50/p99), after a warm-up; `rounds` alternating
// raw/gmq rounds of each, every figure the median over the rounds. "CPU µs/call" is this
// process's CPU time (caller and responder together, not the broker) per call.
// Budget (DESIGN.md): p50 at 1 in flight on Mosquitto MQTT 5 ≤ 1.1 × raw; the other rows are for
// information.
//
// Measures the built package (dist/, `npm run build`); --from-source bundles src/ instead.
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import mqttjs from "mqtt";
import {
  loadPackage,
  machineLine,
  median,
  percentile,
  printTable,
  startBrokers,
  withCpu,
  writeJson,
} from "./mqtt-support.mjs";

const { values: args } = parseArgs({
  options: {
    calls: { type: "string", default: "3000" },
    payload: { type: "string", default: "64" },
    concurrency: { type: "string", default: "100" },
    rounds: { type: "string", default: "5" },
    brokers: { type: "string", default: "aedes,mosquitto" },
    "from-source": { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const CALLS = Number(args.calls);
const PAYLOAD = Number(args.payload);
const CONCURRENCY = Number(args.concurrency);
const ROUNDS = Number(args.rounds);

const { core, adapter, testing, source, cleanup } = await loadPackage(args["from-source"]);
const { createClient, bytesCodec } = core;
const body = new Uint8Array(randomBytes(PAYLOAD));

function rawConnect(broker) {
  const client = mqttjs.connect(broker.url, { protocolVersion: broker.version, reconnectPeriod: 0 });
  client.stream.setNoDelay?.(true); // as the gmq adapter does; otherwise both wait out Nagle
  return new Promise((resolve, reject) => {
    client.once("connect", () => resolve(client));
    client.once("error", reject);
  });
}

/** 3.1.1 has no reply properties: [u32 correlation][u16 topic length][reply topic][body]. */
function frame(correlation, replyTo, payload) {
  const topic = Buffer.from(replyTo);
  const out = Buffer.allocUnsafe(6 + topic.length + payload.length);
  out.writeUInt32BE(correlation, 0);
  out.writeUInt16BE(topic.length, 4);
  topic.copy(out, 6);
  out.set(payload, 6 + topic.length);
  return out;
}

/** A hand-written request/reply on raw mqtt.js: returns `call(payload) => Promise<Buffer>`. */
async function rawRpc(broker) {
  const server = await rawConnect(broker);
  const caller = await rawConnect(broker);
  const v5 = broker.version === 5;
  const requestTopic = `bench/raw-rpc/${process.pid}/echo`;
  const replyTopic = `bench/raw-reply/${process.pid}`;
  server.on("message", (_topic, payload, packet) => {
    if (v5) {
      const { responseTopic, correlationData } = packet.properties ?? {};
      server.publish(responseTopic, payload, { qos: 1, properties: { correlationData } });
    } else {
      const length = payload.readUInt16BE(4);
      const replyTo = payload.toString("utf8", 6, 6 + length);
      const reply = Buffer.allocUnsafe(4 + payload.length - 6 - length);
      payload.copy(reply, 0, 0, 4);
      payload.copy(reply, 4, 6 + length);
      server.publish(replyTo, reply, { qos: 1 });
    }
  });
  await server.subscribeAsync(requestTopic, { qos: 1 });
  const pending = new Map();
  caller.on("message", (_topic, payload, packet) => {
    const id = v5 ? packet.properties?.correlationData?.readUInt32BE(0) : payload.readUInt32BE(0);
    const resolve = pending.get(id);
    if (!resolve) return;
    pending.delete(id);
    resolve(v5 ? payload : payload.subarray(4));
  });
  await caller.subscribeAsync(replyTopic, { qos: 1 });
  let next = 0;
  const call = (payload) =>
    new Promise((resolve, reject) => {
      const id = ++next >>> 0;
      pending.set(id, resolve);
      const done = (error) => error && reject(error);
      if (v5) {
        const correlationData = Buffer.allocUnsafe(4);
        correlationData.writeUInt32BE(id, 0);
        caller.publish(
          requestTopic,
          payload,
          { qos: 1, properties: { responseTopic: replyTopic, correlationData } },
          done,
        );
      } else {
        caller.publish(requestTopic, frame(id, replyTopic, payload), { qos: 1 }, done);
      }
    });
  return { call, close: () => Promise.all([server.endAsync(true), caller.endAsync(true)]) };
}

async function gmqRpc(broker) {
  const make = () =>
    createClient({ transport: adapter.mqtt({ url: broker.url, ...broker.gmq }), codec: bytesCodec });
  const server = make();
  const caller = make();
  server.handle("Bench", "echo", (args) => args);
  await Promise.all([server.connect(), caller.connect()]);
  await new Promise((resolve) => setTimeout(resolve, 100)); // the handler's subscription
  return {
    call: (payload) => caller.call("Bench", "echo", payload, { timeoutMs: 30_000 }),
    close: () => Promise.all([server.close(), caller.close()]),
  };
}

/** `total` calls with `concurrency` in flight: calls/s and latency percentiles (ms). */
async function measure(rpc, total, concurrency) {
  const latencies = [];
  let issued = 0;
  const worker = async () => {
    while (issued < total) {
      issued++;
      const started = performance.now();
      const reply = await rpc.call(body);
      latencies.push(performance.now() - started);
      if (reply.length !== body.length) throw new Error(`bad echo: ${reply.length} bytes`);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return { rate: (total / elapsed) * 1000, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const brokers = await startBrokers(testing, args.brokers);
const rows = [];
const targets = [];
const ms = (value) => value.toFixed(3);
try {
  for (const broker of brokers) {
    const raw = await rawRpc(broker);
    const gmq = await gmqRpc(broker);
    for (const inFlight of [1, CONCURRENCY]) {
      const total = inFlight === 1 ? CALLS : CALLS * 3;
      await measure(raw, Math.ceil(total / 10), inFlight);
      await measure(gmq, Math.ceil(total / 10), inFlight);
      // Alternating rounds, each figure the median over them: one round on a shared VM can be
      // off by half.
      const rawRounds = [];
      const gmqRounds = [];
      for (let round = 0; round < ROUNDS; round++) {
        rawRounds.push(await withCpu(() => measure(raw, total, inFlight)));
        gmqRounds.push(await withCpu(() => measure(gmq, total, inFlight)));
      }
      const medianOf = (rounds) => ({
        rate: median(rounds.map((x) => x.rate)),
        p50: median(rounds.map((x) => x.p50)),
        p99: median(rounds.map((x) => x.p99)),
        cpu: (median(rounds.map((x) => x.cpuMs)) * 1000) / total,
      });
      const r = medianOf(rawRounds);
      const g = medianOf(gmqRounds);
      const latency = g.p50 / r.p50;
      rows.push({
        broker: broker.name,
        "in flight": inFlight,
        "raw calls/s": Math.round(r.rate),
        "gmq calls/s": Math.round(g.rate),
        "gmq/raw rate": `${((g.rate / r.rate) * 100).toFixed(1)}%`,
        "raw p50 ms": ms(r.p50),
        "gmq p50 ms": ms(g.p50),
        "raw p99 ms": ms(r.p99),
        "gmq p99 ms": ms(g.p99),
        "p50 gmq/raw": `${latency.toFixed(2)}x`,
        "raw CPU µs/call": r.cpu.toFixed(1),
        "gmq CPU µs/call": g.cpu.toFixed(1),
      });
      if (broker.version === 5 && inFlight === 1) {
        targets.push({
          what: `call round trip p50, ${broker.name}, 1 in flight: gmq/hand-written request/response`,
          target: "≤ 1.1x",
          measured: `${latency.toFixed(2)}x`,
          result: latency <= 1.1 ? "PASS" : "FAIL",
        });
      }
    }
    await raw.close();
    await gmq.close();
  }
} finally {
  await Promise.all(brokers.map((broker) => broker.close()));
  cleanup();
}

console.log(
  `\nMQTT call round trip: ${CALLS} sequential, ${CALLS * 3} at ${CONCURRENCY} in flight, payload ${PAYLOAD} B, median of ${ROUNDS} rounds, package from ${source}\n${machineLine()}\n`,
);
printTable(rows);
if (targets.length > 0) {
  console.log("");
  printTable(targets);
}
writeJson(
  args.json,
  "mqtt-call",
  { calls: CALLS, payload: PAYLOAD, concurrency: CONCURRENCY, rounds: ROUNDS, source },
  { rows, targets },
);
