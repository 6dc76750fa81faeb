// gRPC-web unary call latency: gmq/grpc-web vs raw nice-grpc-web, same server, same run.
//
//   npm run bench:grpc-web -- [--calls 2000] [--concurrency 64] [--rounds 5] [--mode binary|text] [--json <file>]
//
// Server: startCommentServer() from gmq/testing (connect-node behind the Envoy stand-in) in a
// child process (bench/grpc-web-server.mjs), on loopback, its comments table holding 5 comments
// on the target the calls read. Clients, in this process, all over
// nice-grpc-web's fetch transport (Node's undici fetch), each issuing getComments
// ({type: "resource", targetId: 1, pageSize: 10} → 5 comments, about 200 bytes):
//   raw     nice-grpc-web's own client from the ts-proto definition (createClient/createChannel);
//   typed   gmq: rpc(client, CommentServiceDefinition).getComments(request) (protobuf bytes);
//   json    gmq: client.call("commentModule.CommentService", "getComments", request) (JSON in
//           and out, converted with the definition's fromJSON/toJSON).
// Measured: `calls` sequential calls (1 in flight: p50/p99 round trip) and 3 × `calls` with
// `concurrency` in flight (calls/s, p50/p99), after a warm-up; `rounds` rounds alternating the
// clients (each round starting with the next one), every figure the median over the rounds. Target (DESIGN.md): gmq p50 ≤ 1.1 × raw.
//
// Measures the built package (dist/, `npm run build`); the generated ts-proto definitions
// (examples/comments/generated/comment.ts) are compiled with esbuild into .tmp/ first.
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { createChannel, FetchTransport, createClient as niceClient } from "nice-grpc-web";
import { grpcWeb, rpc } from "../dist/grpc-web.js";
import { createClient } from "../dist/index.js";
import { tempDir } from "./browser-support.mjs";
import {
  machineLine,
  median,
  percentile,
  printTable,
  startServerProcess,
  writeJson,
} from "./mqtt-support.mjs";

const { values: args } = parseArgs({
  options: {
    calls: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "64" },
    rounds: { type: "string", default: "5" },
    mode: { type: "string", default: "binary" },
    json: { type: "string" },
  },
});
const CALLS = Number(args.calls);
const CONCURRENCY = Number(args.concurrency);
const ROUNDS = Number(args.rounds);
const MODE = args.mode;
const REQUEST = { type: "resource", targetId: 1, pageSize: 10 };

/** The ts-proto definitions, compiled from TypeScript (their npm imports stay external). */
async function loadDefinitions() {
  const { build } = await import("esbuild");
  const out = tempDir("bench-grpc-web-");
  const file = join(out.dir, "comment.mjs");
  await build({
    entryPoints: [fileURLToPath(new URL("../examples/comments/generated/comment.ts", import.meta.url))],
    outfile: file,
    bundle: true,
    format: "esm",
    platform: "node",
    packages: "external",
    logLevel: "error",
  });
  const module = await import(pathToFileURL(file).href);
  out.remove();
  return module;
}
const { CommentServiceDefinition } = await loadDefinitions();

const serverProcess = await startServerProcess(
  fileURLToPath(new URL("./grpc-web-server.mjs", import.meta.url)),
);
const server = serverProcess.ready;

const raw = niceClient(CommentServiceDefinition, createChannel(server.url, FetchTransport()));
const gmq = createClient({
  transport: grpcWeb({ url: server.url, services: [CommentServiceDefinition], mode: MODE }),
});
const typed = rpc(gmq, CommentServiceDefinition);

const clients = {
  raw: () => raw.getComments(REQUEST),
  typed: () => typed.getComments(REQUEST),
  json: () => gmq.call("commentModule.CommentService", "getComments", REQUEST),
};
if (MODE !== "binary") delete clients.raw; // nice-grpc-web's own client speaks binary only

/** `total` calls with `concurrency` in flight: calls/s and latency percentiles (ms). */
async function measure(call, total, concurrency) {
  const latencies = [];
  let issued = 0;
  const worker = async () => {
    while (issued < total) {
      issued++;
      const started = performance.now();
      const reply = await call();
      latencies.push(performance.now() - started);
      if (reply.comments.length !== 5) throw new Error(`bad reply: ${JSON.stringify(reply)}`);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return { rate: (total / elapsed) * 1000, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const rows = [];
const ms = (value) => value.toFixed(3);
try {
  for (const inFlight of [1, CONCURRENCY]) {
    const total = inFlight === 1 ? CALLS : CALLS * 3;
    for (const call of Object.values(clients)) await measure(call, Math.ceil(total / 5), inFlight);
    const rounds = Object.fromEntries(Object.keys(clients).map((name) => [name, []]));
    // Alternating rounds, each starting with the next client, so none is always measured last.
    const order = Object.entries(clients);
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < order.length; i++) {
        const [name, call] = order[(round + i) % order.length];
        rounds[name].push(await measure(call, total, inFlight));
      }
    }
    const medians = Object.fromEntries(
      Object.entries(rounds).map(([name, list]) => [
        name,
        {
          rate: median(list.map((x) => x.rate)),
          p50: median(list.map((x) => x.p50)),
          p99: median(list.map((x) => x.p99)),
        },
      ]),
    );
    const base = medians.raw;
    for (const [name, m] of Object.entries(medians)) {
      const ratio = base ? m.p50 / base.p50 : undefined;
      rows.push({
        client: name,
        "in flight": inFlight,
        "calls/s": Math.round(m.rate),
        "p50 ms": ms(m.p50),
        "p99 ms": ms(m.p99),
        "p50 vs raw": ratio === undefined ? "—" : `${ratio.toFixed(2)}x`,
        "rate vs raw": base ? `${((m.rate / base.rate) * 100).toFixed(1)}%` : "—",
        target: name === "raw" || !base ? "" : ratio <= 1.1 ? "PASS (≤ 1.1x)" : "FAIL (≤ 1.1x)",
      });
    }
  }
} finally {
  await gmq.close();
  await serverProcess.stop();
}

console.log(
  `\ngRPC-web unary getComments (${MODE} mode), server in a child process on loopback: ${CALLS} sequential, ${CALLS * 3} at ${CONCURRENCY} in flight, median of ${ROUNDS} alternating rounds, gmq from dist/\n${machineLine()}\n`,
);
printTable(rows);
writeJson(
  args.json,
  "grpc-web-call",
  { calls: CALLS, concurrency: CONCURRENCY, rounds: ROUNDS, mode: MODE },
  { rows },
);
