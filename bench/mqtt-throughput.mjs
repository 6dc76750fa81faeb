// MQTT publish throughput: gmq over the mqtt adapter vs raw mqtt.js, same broker, same run.
//
//   node bench/mqtt-throughput.mjs [--n 20000] [--payload 256] [--rounds 5] [--window 1000]
//                                  [--brokers aedes,mosquitto] [--from-source] [--json <file>]
//
// For each broker (embedded aedes, 3.1.1 with gmq's envelope; Mosquitto, MQTT 5, when installed)
// and QoS 0 and 1: one publisher and one subscriber client, N messages of `payload` random bytes.
// "delivered" is N over the time from the first publish to the subscriber holding all N (the
// number compared with the budget); "acked" is N over the time until every publish resolved
// (PUBACK for QoS 1, handed to the socket for QoS 0: the QoS 0 hand-off). Raw mqtt.js keeps
// `window` QoS 1 publishes in flight, the same as gmq's outbox (maxInFlight 1000), and fires
// QoS 0 without callbacks. A warm-up round runs first; the median of `rounds` alternating rounds
// is reported. "CPU µs/msg" is this process's CPU time (user + system: publisher and subscriber
// together, not the broker) per message, a figure a busy machine disturbs less than wall clock.
//
// A second baseline, "raw, same wire", is raw mqtt.js carrying what gmq's wire format carries
// for each message, built and read per message by hand: on MQTT 5 a 24-character id as the
// `gmq-id` user property; on 3.1.1 the JSON envelope with the base64 payload. It separates what
// the format costs from what gmq's own code costs.
//
// Budgets (DESIGN.md), judged on Mosquitto MQTT 5: QoS 1 delivered ≥ 0.90 × plain raw and
// ≥ 0.95 × raw on the same wire; QoS 0 hand-off ≥ 0.5 × raw. The aedes rows are for information.
//
// Measures the built package (dist/, `npm run build`); --from-source bundles src/ instead.
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import mqttjs from "mqtt";
import {
  loadPackage,
  machineLine,
  median,
  printTable,
  startBrokers,
  waitUntil,
  withCpu,
  writeJson,
} from "./mqtt-support.mjs";

const { values: args } = parseArgs({
  options: {
    n: { type: "string", default: "20000" },
    payload: { type: "string", default: "256" },
    rounds: { type: "string", default: "5" },
    window: { type: "string", default: "1000" },
    brokers: { type: "string", default: "aedes,mosquitto" },
    "from-source": { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const N = Number(args.n);
const PAYLOAD = Number(args.payload);
const ROUNDS = Number(args.rounds);
const WINDOW = Number(args.window);

const { core, adapter, testing, source, cleanup } = await loadPackage(args["from-source"]);
const { createClient, bytesCodec } = core;
const payload = new Uint8Array(randomBytes(PAYLOAD));
let topicCounter = 0;
const nextTopic = () => `bench/throughput/${process.pid}/${++topicCounter}`;

function rawConnect(broker) {
  const client = mqttjs.connect(broker.url, {
    protocolVersion: broker.version,
    reconnectPeriod: 0,
    queueQoSZero: false,
  });
  client.stream.setNoDelay?.(true); // as the gmq adapter does
  return new Promise((resolve, reject) => {
    client.once("connect", () => resolve(client));
    client.once("error", reject);
  });
}

/** Raw mqtt.js: `n` publishes; QoS 1 with at most `WINDOW` unacknowledged, QoS 0 fire and forget. */
function rawPublishAll(client, wire, topic, n, qos) {
  if (qos === 0) {
    for (let i = 0; i < n; i++) wire.send(client, topic, 0);
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    let sent = 0;
    let done = 0;
    const next = () => {
      while (sent < n && sent - done < WINDOW) {
        sent++;
        wire.send(client, topic, qos, (error) => {
          if (error) return reject(error);
          if (++done === n) resolve();
          else next();
        });
      }
    };
    next();
  });
}

/** Raw mqtt.js sending and reading `wire`'s format: N over the time until all are delivered. */
async function rawRound(pair, wire, n, qos) {
  const topic = nextTopic();
  let received = 0;
  const onMessage = (t, bytes, packet) => {
    if (t === topic && wire.read(bytes, packet) !== undefined) received++;
  };
  pair.sub.on("message", onMessage);
  await pair.sub.subscribeAsync(topic, { qos });
  const started = performance.now();
  await rawPublishAll(pair.pub, wire, topic, n, qos);
  const acked = performance.now() - started;
  await waitUntil(() => received >= n, 60_000, `${n} raw messages`);
  const delivered = performance.now() - started;
  pair.sub.off("message", onMessage);
  await pair.sub.unsubscribeAsync(topic);
  return { acked: (n / acked) * 1000, delivered: (n / delivered) * 1000 };
}

/** The payload as is: the plain raw baseline. */
const plainWire = {
  send: (client, topic, qos, callback) => client.publish(topic, payload, { qos }, callback),
  read: () => true,
};

/** A gmq-like id (24 characters: time, sequence, producer) per message, for the same-wire baseline. */
let idCounter = 0;
const nextId = () =>
  `${Date.now().toString(36).padStart(9, "0")}${(++idCounter).toString(36).padStart(7, "0")}benchraw`;

/** Raw mqtt.js sending and reading gmq's wire format by hand (see the header). */
function sameWire(broker) {
  if (broker.version === 5) {
    return {
      send: (client, topic, qos, callback) =>
        client.publish(
          topic,
          payload,
          { qos, properties: { userProperties: { "gmq-id": nextId() } } },
          callback,
        ),
      read: (_payload, packet) => packet.properties?.userProperties?.["gmq-id"],
    };
  }
  const base64 = Buffer.from(payload).toString("base64");
  return {
    send: (client, topic, qos, callback) => {
      // Per message, as gmq does: the id changes, so the envelope is built each time.
      const envelope = Buffer.from(JSON.stringify({ gmq: 1, id: nextId(), p: base64 }));
      client.publish(topic, envelope, { qos }, callback);
    },
    read: (bytes) => {
      const body = JSON.parse(bytes.toString());
      Buffer.from(body.p, "base64"); // decoded, as gmq decodes it, though only the id is checked
      return body.id;
    },
  };
}

async function gmqRound(pair, n, qos) {
  const topic = nextTopic();
  let received = 0;
  const sub = pair.sub.subscribe(
    topic,
    () => {
      received++;
    },
    { qos },
  );
  await sub.ready;
  const started = performance.now();
  const pending = new Array(n);
  for (let i = 0; i < n; i++) pending[i] = pair.pub.publish(topic, payload, { qos });
  await Promise.all(pending);
  const acked = performance.now() - started;
  await waitUntil(() => received >= n, 60_000, `${n} gmq messages`);
  const delivered = performance.now() - started;
  await sub.unsubscribe();
  return { acked: (n / acked) * 1000, delivered: (n / delivered) * 1000 };
}

const brokers = await startBrokers(testing, args.brokers);
const rows = [];
const targets = [];
const pct = (ratio) => `${(ratio * 100).toFixed(1)}%`;
const perMsg = (runs, n) => (median(runs.map((r) => r.cpuMs)) * 1000) / n;
const judge = (what, target, ratio, limit) =>
  targets.push({ what, target, measured: pct(ratio), result: ratio >= limit ? "PASS" : "FAIL" });
try {
  for (const broker of brokers) {
    const raw = { pub: await rawConnect(broker), sub: await rawConnect(broker) };
    const gmqClient = () =>
      createClient({ transport: adapter.mqtt({ url: broker.url, ...broker.gmq }), codec: bytesCodec });
    const gmq = { pub: gmqClient(), sub: gmqClient() };
    await Promise.all([gmq.pub.connect(), gmq.sub.connect()]);
    const wire = sameWire(broker);
    for (const qos of [0, 1]) {
      await rawRound(raw, plainWire, Math.ceil(N / 10), qos);
      await rawRound(raw, wire, Math.ceil(N / 10), qos);
      await gmqRound(gmq, Math.ceil(N / 10), qos);
      const rawRuns = [];
      const wireRuns = [];
      const gmqRuns = [];
      for (let round = 0; round < ROUNDS; round++) {
        rawRuns.push(await withCpu(() => rawRound(raw, plainWire, N, qos)));
        wireRuns.push(await withCpu(() => rawRound(raw, wire, N, qos)));
        gmqRuns.push(await withCpu(() => gmqRound(gmq, N, qos)));
      }
      const rawDelivered = median(rawRuns.map((r) => r.delivered));
      const wireDelivered = median(wireRuns.map((r) => r.delivered));
      const gmqDelivered = median(gmqRuns.map((r) => r.delivered));
      const rawAcked = median(rawRuns.map((r) => r.acked));
      const gmqAcked = median(gmqRuns.map((r) => r.acked));
      rows.push({
        broker: broker.name,
        qos,
        "raw msg/s": Math.round(rawDelivered),
        "raw, same wire msg/s": Math.round(wireDelivered),
        "gmq msg/s": Math.round(gmqDelivered),
        "gmq/raw": pct(gmqDelivered / rawDelivered),
        "gmq/same wire": pct(gmqDelivered / wireDelivered),
        "raw acked/s": Math.round(rawAcked),
        "gmq acked/s": Math.round(gmqAcked),
        "gmq/raw acked": pct(gmqAcked / rawAcked),
        "raw CPU µs/msg": perMsg(rawRuns, N).toFixed(1),
        "same wire CPU µs/msg": perMsg(wireRuns, N).toFixed(1),
        "gmq CPU µs/msg": perMsg(gmqRuns, N).toFixed(1),
      });
      if (broker.version !== 5) continue;
      const name = `${broker.name}, QoS ${qos}`;
      if (qos === 1) {
        judge(
          `publish throughput, ${name}, delivered: gmq/raw mqtt.js`,
          "≥ 90%",
          gmqDelivered / rawDelivered,
          0.9,
        );
        judge(
          `publish throughput, ${name}, delivered: gmq/raw mqtt.js carrying the same id`,
          "≥ 95%",
          gmqDelivered / wireDelivered,
          0.95,
        );
      } else {
        judge(
          `QoS 0 hand-off to the socket, ${name}: gmq/raw mqtt.js (no callbacks)`,
          "≥ 50%",
          gmqAcked / rawAcked,
          0.5,
        );
      }
    }
    raw.pub.end(true);
    raw.sub.end(true);
    await Promise.all([gmq.pub.close(), gmq.sub.close()]);
  }
} finally {
  await Promise.all(brokers.map((broker) => broker.close()));
  cleanup();
}

console.log(
  `\nMQTT throughput: N=${N}, payload ${PAYLOAD} B, median of ${ROUNDS} rounds, package from ${source}\n${machineLine()}\n`,
);
printTable(rows);
if (targets.length > 0) {
  console.log("");
  printTable(targets);
}
writeJson(
  args.json,
  "mqtt-throughput",
  { n: N, payload: PAYLOAD, rounds: ROUNDS, window: WINDOW, source },
  { rows, targets },
);
