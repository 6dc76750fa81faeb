// WebSocket fan-out: one publisher to S subscribers through one gmq hub, against a hand-written
// `ws` broadcast server (the limit: it forwards each frame to every other socket, nothing more).
//
//   node bench/websocket-fanout.mjs [--subscribers 100] [--n 2000] [--payload 256] [--rounds 3] [--json <file>]
//
// gmq: the hub (`gmq/hub`, in-memory engine, frame rate limit lifted for the bench) and S+1 gmq
// clients over `gmq/websocket`, all in this process. The publisher sends N messages through its
// outbox (QoS 1: each acknowledged by the hub once stored and routed, with its exactly-once
// (clientId, seq)); each subscriber is a topic stream subscription whose handler counts. Two
// subscriber modes: QoS 0 (the hub pushes; nothing goes back) and QoS 1 (gmq's default: each
// delivery is acked back to the hub once handled, and the hub keeps at most maxInFlight unacked).
// Diagnostic row: the same hub and gmq publisher, to raw `ws` subscribers that ask for batches as
// gmq clients do and only count the message frames (what the hub itself costs, without the
// subscribers' decoding and dispatch).
// Limit: a `ws` server in this process relays each frame of a raw `ws` publisher to S raw `ws`
// clients that count message events; the frames are hub `message` frames of the same size.
// "delivered/s" is N×S over the time from the first publish to the last subscriber holding all N.
// A warm-up round runs first; rounds alternate between the setups; medians are reported. Also
// the process's CPU time (user + system, all threads) per delivery: steadier than wall time on
// a machine shared with other work.
// Budget (task): gmq ≥ 0.7× the broadcast server. Measures the built package (`npm run build`).
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { createClient } from "gmq";
import { createHub } from "gmq/hub";
import { SUBPROTOCOL, websocket } from "gmq/websocket";
import { WebSocket, WebSocketServer } from "ws";
import { machineLine, median, printTable, writeJson } from "./mqtt-support.mjs";

const { values: args } = parseArgs({
  options: {
    subscribers: { type: "string", default: "100" },
    n: { type: "string", default: "2000" },
    payload: { type: "string", default: "256" },
    rounds: { type: "string", default: "3" },
    json: { type: "string" },
  },
});
const S = Number(args.subscribers);
const N = Number(args.n);
const PAYLOAD = Number(args.payload);
const ROUNDS = Number(args.rounds);
/** The same text for every message, as JSON (gmq's default codec sends it as UTF-8 text). */
const text = randomBytes(PAYLOAD).toString("base64").slice(0, PAYLOAD);
let round = 0;

/** Counts deliveries and resolves when every subscriber holds all N (no polling loop: it would
 *  take the CPU the measured code needs, in this one process). */
function deliveries() {
  const counts = new Array(S).fill(0);
  let complete = 0;
  let done;
  const all = new Promise((resolve) => (done = resolve));
  return {
    all,
    count(i) {
      if (++counts[i] === N && ++complete === S) done();
    },
  };
}

// ---- the limit: a hand-written broadcast server ----
async function broadcastSetup() {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
  await new Promise((resolve) => wss.once("listening", resolve));
  wss.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => {
      for (const client of wss.clients) if (client !== ws) client.send(data, { binary: isBinary });
    });
  });
  const url = `ws://127.0.0.1:${wss.address().port}`;
  const open = () =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.once("open", () => resolve(ws));
      ws.once("error", reject);
    });
  let tally;
  const subscribers = await Promise.all(Array.from({ length: S }, () => open()));
  for (const [i, ws] of subscribers.entries()) ws.on("message", () => tally.count(i));
  const publisher = await open();
  return {
    async run() {
      tally = deliveries();
      const topic = `bench/fanout/${++round}`;
      const started = performance.now();
      for (let i = 0; i < N; i++) {
        publisher.send(
          JSON.stringify({
            type: "message",
            sub: "s1",
            topic,
            payload: JSON.stringify(text),
            epoch: "e",
            offset: i,
          }),
        );
      }
      await tally.all;
      return (N * S) / ((performance.now() - started) / 1000);
    },
    async close() {
      for (const ws of [...subscribers, publisher]) ws.terminate();
      await new Promise((resolve) => wss.close(resolve));
    },
  };
}

// ---- diagnostic: the hub and a gmq publisher, to raw `ws` subscribers that only count ----
async function hubOnlySetup() {
  const hub = await createHub({ limits: { ratePerSecond: 1_000_000, rateBurst: 1_000_000 } });
  const publisher = createClient({ transport: websocket({ url: hub.url }) });
  await publisher.connect();
  let tally;
  const subscribers = await Promise.all(
    Array.from(
      { length: S },
      () =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(hub.url, [SUBPROTOCOL], { perMessageDeflate: false });
          ws.once("open", () => {
            ws.send('{"type":"connect","batch":true}');
            resolve(ws);
          });
          ws.once("error", reject);
        }),
    ),
  );
  // A WebSocket message from the hub holds one frame or a batch (a JSON array of frames): count
  // the message frames in it without parsing.
  const marker = Buffer.from('{"type":"message"');
  for (const [i, ws] of subscribers.entries()) {
    ws.on("message", (data) => {
      for (let at = data.indexOf(marker); at >= 0; at = data.indexOf(marker, at + marker.length)) {
        tally.count(i);
      }
    });
  }
  return {
    async run() {
      const topic = `bench/fanout/${++round}`;
      tally = deliveries();
      const subscribed = subscribers.map(
        (ws) =>
          new Promise((resolve) => {
            ws.once("message", resolve);
            ws.send(JSON.stringify({ type: "subscribe", rid: round, sub: `s${round}`, pattern: topic }));
          }),
      );
      await Promise.all(subscribed);
      const started = performance.now();
      const sends = [];
      for (let i = 0; i < N; i++) sends.push(publisher.publish(topic, text));
      await Promise.all(sends);
      await tally.all;
      return (N * S) / ((performance.now() - started) / 1000);
    },
    async close() {
      for (const ws of subscribers) ws.terminate();
      await publisher.close();
      await hub.close();
    },
  };
}

// ---- gmq: the hub and gmq clients ----
async function gmqSetup(qos) {
  const hub = await createHub({ limits: { ratePerSecond: 1_000_000, rateBurst: 1_000_000 } });
  const client = () => {
    const c = createClient({ transport: websocket({ url: hub.url }) });
    c.on("error", (error) => console.error("gmq client:", error.message));
    return c;
  };
  const subscribers = Array.from({ length: S }, client);
  const publisher = client();
  await Promise.all([...subscribers, publisher].map((c) => c.connect()));
  return {
    async run() {
      const topic = `bench/fanout/${++round}`;
      const tally = deliveries();
      const subs = subscribers.map((c, i) => c.subscribe(topic, () => tally.count(i), { qos }));
      await Promise.all(subs.map((s) => s.ready));
      const started = performance.now();
      const sends = [];
      for (let i = 0; i < N; i++) sends.push(publisher.publish(topic, text));
      await Promise.all(sends);
      await tally.all;
      const rate = (N * S) / ((performance.now() - started) / 1000);
      await Promise.all(subs.map((s) => s.unsubscribe()));
      return rate;
    },
    async close() {
      await Promise.all([...subscribers, publisher].map((c) => c.close()));
      await hub.close();
    },
  };
}

const setups = {
  "ws broadcast (limit)": await broadcastSetup(),
  "gmq hub, subscribers QoS 0": await gmqSetup(0),
  "gmq hub, subscribers QoS 1 (acked)": await gmqSetup(1),
  "diagnostic: hub + gmq publisher → raw ws subscribers": await hubOnlySetup(),
};
const results = Object.fromEntries(Object.keys(setups).map((name) => [name, []]));
const cpu = Object.fromEntries(Object.keys(setups).map((name) => [name, []]));
for (const setup of Object.values(setups)) await setup.run(); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  const order = Object.entries(setups);
  if (r % 2 === 1) order.reverse(); // alternate, so neither side always runs on a warmer process
  for (const [name, setup] of order) {
    const before = process.cpuUsage();
    results[name].push(await setup.run());
    const used = process.cpuUsage(before);
    cpu[name].push((used.user + used.system) / (N * S));
  }
}
for (const setup of Object.values(setups)) await setup.close();

const limit = median(results["ws broadcast (limit)"]);
const rows = Object.entries(results).map(([name, rates]) => ({
  setup: name,
  "delivered/s (median)": Math.round(median(rates)),
  rounds: rates.map((r) => Math.round(r)).join(" / "),
  "× limit": (median(rates) / limit).toFixed(2),
  "CPU µs/delivery": median(cpu[name]).toFixed(2),
}));
console.log(
  `\nWebSocket fan-out: 1 publisher → ${S} subscribers, N=${N} messages of ${PAYLOAD} B text, ` +
    `median of ${ROUNDS} alternating rounds after a warm-up; everything in one process\n${machineLine()}\n`,
);
printTable(rows);
const gmq0 = median(results["gmq hub, subscribers QoS 0"]) / limit;
const gmq1 = median(results["gmq hub, subscribers QoS 1 (acked)"]) / limit;
console.log(
  `\nBudget: gmq ≥ 0.7× the broadcast server — QoS 0 subscribers ${gmq0.toFixed(2)}× ${gmq0 >= 0.7 ? "PASS" : "FAIL"}; ` +
    `QoS 1 subscribers ${gmq1.toFixed(2)}× ${gmq1 >= 0.7 ? "PASS" : "FAIL"}`,
);
if (args.json) {
  const params = { subscribers: S, messages: N, payload: PAYLOAD, rounds: ROUNDS };
  writeJson(args.json, "websocket-fanout", params, { rows });
}
process.exit(0);
