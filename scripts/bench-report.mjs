// Runs every bench and writes docs/benchmarks.md and docs/benchmarks-throughput.svg from what
// they measured. Nothing in the output is typed in by hand.
//
//   node scripts/bench-report.mjs [--reuse]
//
// Builds the package (`npm run build`), runs each bench with `--json .tmp/bench-results/<id>.json`,
// then renders. --reuse skips the build and the runs and renders the JSON of the last run.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { barChart } from "./bench-chart.mjs";
import { markdownTable } from "./markdown.mjs";

const { values: args } = parseArgs({ options: { reuse: { type: "boolean", default: false } } });
const root = fileURLToPath(new URL("..", import.meta.url));
const resultsDir = join(root, ".tmp", "bench-results");
const BENCHES = [
  { id: "mqtt-throughput", script: "bench/mqtt-throughput.mjs", npm: "bench:mqtt" },
  { id: "mqtt-call", script: "bench/mqtt-call.mjs", npm: "bench:call" },
  { id: "outbox", script: "bench/outbox.mjs", npm: "bench:outbox" },
  { id: "growth", script: "bench/growth.mjs", npm: "bench:growth" },
  { id: "websocket-fanout", script: "bench/websocket-fanout.mjs", npm: "bench:websocket" },
  { id: "gnode", script: "bench/gnode.mjs", npm: "bench:gnode" },
  { id: "grpc-web-call", script: "bench/grpc-web-call.mjs", npm: "bench:grpc-web" },
  { id: "size", script: "scripts/size.mjs", npm: "size" },
];
const jsonPath = (id) => join(resultsDir, `${id}.json`);
const command = (bench) => `node ${bench.script} --json .tmp/bench-results/${bench.id}.json`;

if (!args.reuse) {
  mkdirSync(resultsDir, { recursive: true });
  const run = (cmd, argv) => {
    console.log(`\n$ ${[cmd, ...argv].join(" ")}`);
    const { status } = spawnSync(cmd, argv, { cwd: root, stdio: "inherit" });
    if (status !== 0) throw new Error(`${cmd} ${argv.join(" ")} exited with ${status}`);
  };
  run("npm", ["run", "build"]);
  for (const bench of BENCHES) run(process.execPath, [bench.script, "--json", jsonPath(bench.id)]);
}

const data = Object.fromEntries(BENCHES.map((b) => [b.id, JSON.parse(readFileSync(jsonPath(b.id), "utf8"))]));
const {
  "mqtt-throughput": throughput,
  "mqtt-call": call,
  outbox,
  growth,
  size,
  "websocket-fanout": fanout,
  gnode,
  "grpc-web-call": grpcWeb,
} = data;

function mosquittoVersion() {
  try {
    const text = execFileSync("/usr/sbin/mosquitto", ["-h"], { encoding: "utf8", stdio: "pipe" });
    return text.match(/version ([\d.]+)/)?.[1];
  } catch (error) {
    return String(error.stdout ?? "").match(/version ([\d.]+)/)?.[1]; // -h exits non-zero
  }
}

// ── targets and budgets, as the benches judged them ────────────────────────────────────────────
const targets = [
  ...throughput.targets,
  ...call.targets,
  ...outbox.targets,
  // The other adapters' budgets, as their benches judged them (each row names its baseline).
  ...fanout.rows
    .filter((row) => row.setup.startsWith("gmq"))
    .map((row) => ({
      what: `WebSocket fan-out, ${row.setup}: delivered/s vs a hand-written ws broadcast`,
      target: "≥ 0.7x",
      measured: `${row["× limit"]}x`,
      result: Number(row["× limit"]) >= 0.7 ? "PASS" : "FAIL",
    })),
  ...gnode.rows.map((row) => ({
    what: `gmq node, ${row.interface}: push → pop → ack msg/s`,
    target: "≥ 0.9x",
    measured: `${row.ratio}x`,
    result: row["budget ≥ 0.9"],
  })),
  ...grpcWeb.rows
    .filter((row) => row.client !== "raw")
    .map((row) => ({
      what: `gRPC-web call p50, ${row.client === "typed" ? "typed rpc()" : "JSON call"}, ${row["in flight"]} in flight: gmq/raw nice-grpc-web`,
      target: "≤ 1.1x",
      measured: row["p50 vs raw"],
      result: row.target.split(" ")[0],
    })),
  ...size.budgets.map((b) => ({
    what: `bundle: ${b.budget}`,
    target: `${b.limit} B`,
    measured: b.measured === undefined ? "—" : `${b.measured} B`,
    result: b.result,
  })),
];

// ── the chart ──────────────────────────────────────────────────────────────────────────────────
const pair = (label, baseline, gmq, baseName = "raw") => [
  { label: `${label} · ${baseName}`, value: baseline, kind: "baseline" },
  { label: `${label} · gmq`, value: gmq, kind: "gmq" },
];
const groups = [
  {
    title: "MQTT publish, delivered to a subscriber",
    unit: "msg/s",
    bars: throughput.rows.flatMap((r) => pair(`${r.broker} QoS ${r.qos}`, r["raw msg/s"], r["gmq msg/s"])),
  },
  {
    title: `call round trip, ${call.params.concurrency} in flight`,
    unit: "calls/s",
    bars: call.rows
      .filter((r) => r["in flight"] !== 1)
      .flatMap((r) => pair(r.broker, r["raw calls/s"], r["gmq calls/s"])),
  },
  {
    title: "outbox flush after the broker returns (aedes)",
    unit: "msg/s",
    bars: outbox.flush.map((r) => ({
      label: r.sender.replace(" (baseline)", ""),
      value: r["msg/s"],
      kind: r.sender.startsWith("raw") ? "baseline" : "gmq",
    })),
  },
  {
    title: "offline publish into the outbox (baseline: the memory store)",
    unit: "publishes/s",
    bars: [
      ...outbox.enqueue.map((r) => ({
        label: `Node · ${r.store} store`,
        value: r["publishes/s"],
        kind: r.store === "memory" ? "baseline" : "gmq",
      })),
      ...(outbox.browser ?? []).map((r) => ({
        label: `Chromium · ${r.store} store`,
        value: r["publishes/s"],
        kind: r.store === "memory" ? "baseline" : "gmq",
      })),
    ],
  },
];
mkdirSync(join(root, "docs"), { recursive: true });
const machine = throughput.machine;
const chartTitle = `gmq throughput vs baselines — node ${machine.node}, ${machine.cpu} (${machine.cores} cores)`;
writeFileSync(join(root, "docs", "benchmarks-throughput.svg"), barChart(chartTitle, groups));

// ── the page ───────────────────────────────────────────────────────────────────────────────────
const p = (params) =>
  Object.entries(params)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
const date = throughput.date.slice(0, 10);
const md = [
  "# Benchmarks",
  "",
  `_Generated by \`npm run bench:report\` (scripts/bench-report.mjs) on ${date} from one run of every bench on the machine below. Do not edit by hand: every figure, and every baseline it is compared with, was measured in that run. Expect some run-to-run variation, especially on a small VM._`,
  "",
  "## Machine",
  "",
  markdownTable([
    { "": "Node", value: machine.node },
    { "": "CPU", value: `${machine.cpu} (${machine.cores} cores), ${machine.os}` },
    { "": "Mosquitto", value: mosquittoVersion() ?? "not installed (aedes only)" },
    { "": "Browser", value: outbox.browserVersion ?? "Chromium not installed (skipped)" },
    { "": "esbuild (bundle sizes)", value: size.machine.esbuild },
    { "": "package measured", value: `${throughput.params.source} (\`npm run build\`)` },
  ]),
  "",
  "## Targets and budgets (DESIGN.md)",
  "",
  markdownTable(targets),
  "",
  "![throughput chart](benchmarks-throughput.svg)",
  "",
  "## MQTT publish throughput: gmq vs raw mqtt.js",
  "",
  `One publisher, one subscriber, same broker, same run; ${p(throughput.params)}. "msg/s" is N over the time until the subscriber holds all N; "acked/s" until every publish resolved. gmq on aedes uses MQTT 3.1.1 with its envelope, on Mosquitto MQTT 5. "raw, same wire" is raw mqtt.js building and reading by hand, per message, what gmq puts on the wire (the gmq-id user property on MQTT 5, the JSON envelope on 3.1.1): "gmq/same wire" is the cost of gmq's own code, "gmq/raw" (the budget) also includes the cost of its format.`,
  "",
  markdownTable(throughput.rows),
  "",
  "## Call round trip: gmq call/handle vs hand-written request/reply on raw mqtt.js",
  "",
  `${p(call.params)}.`,
  "",
  markdownTable(call.rows),
  "",
  "## Outbox",
  "",
  `${p(outbox.params)}.`,
  "",
  "Offline enqueue in Node: concurrent `client.publish` (QoS 1) on a client that is not connected, each resolving `queued` once its store has it; the file store fsyncs (group commit).",
  "",
  markdownTable(outbox.enqueue),
  "",
  outbox.browser
    ? `The same in headless ${outbox.browserVersion}, memory vs IndexedDB store, on a page bundled from the sources:\n\n${markdownTable(outbox.browser)}`
    : "Chromium was not installed: the IndexedDB measurement was skipped.",
  "",
  'Flush after reconnect: records queued while the embedded aedes broker was down; it restarts; time until the outbox is empty (every record PUBACKed). "flush" runs from the `connected` event.',
  "",
  markdownTable(outbox.flush),
  "",
  `Recovery: a file log of ${outbox.params.recover} records (${outbox.recoveryLogMiB} MiB).`,
  "",
  markdownTable(outbox.recovery),
  "",
  "## Cost growth at 1×, 10×, 100×",
  "",
  `${p(growth.params)}. A per-unit cost that stays flat scales linearly; one that climbs grows faster than the load.`,
  "",
  "Subscriptions on one client (routing cost per inbound message; stub transport, no network):",
  "",
  markdownTable(growth.subscriptions),
  "",
  "Queued records (publish while offline, then connect and flush; stub transport):",
  "",
  markdownTable(growth.queue),
  "",
  "Payload size (QoS 1 publishes until acked on aedes, gmq vs raw mqtt.js; offline enqueue into the file store):",
  "",
  markdownTable(growth.payload),
  "",
  "## The other transports, each beside a hand-written client of the same backend",
  "",
  `WebSocket hub fan-out (gmq/hub + gmq/websocket), ${p(fanout.params)}: one publisher to many subscribers, deliveries per second beside a hand-written \`ws\` broadcast server (the limit) in the same run; budget ≥ 0.7× the limit.`,
  "",
  markdownTable(fanout.rows),
  "",
  `gmq node (gmq/gnode-http, gmq/gnode) against the emulator ${gnode.params["in-process"] ? "in the bench's process" : "in a process of its own"}, ${p(gnode.params)}: push → pop → ack through ${gnode.params["fresh-clients"] ? "a fresh gmq producer and consumer each round" : "one gmq producer and consumer that live for the whole run"}, beside a hand-written \`fetch\` loop and a hand-written socket client (TCP: publishing the same \`mpub\` batches, and a \`pub\` pipeline); the CPU columns are the clients' process; budget ≥ 0.9×.`,
  "",
  markdownTable(gnode.rows),
  "",
  `gRPC-web unary calls (gmq/grpc-web, the typed \`rpc()\` helper and JSON \`client.call\`) beside raw nice-grpc-web on the same server, ${p(grpcWeb.params)}; budget ≤ 1.1× at p50.`,
  "",
  markdownTable(grpcWeb.rows),
  "",
  "## Bundle size (browser, minified + gzip -9)",
  "",
  markdownTable(size.bundles),
  "",
  "What each adapter adds beyond the core and beyond its own third-party library (gzip bytes; `own`, the larger estimate, is what the budget checks):",
  "",
  markdownTable(size.adapters),
  "",
  "Largest modules of the core bundle (everything `gmq` exports):",
  "",
  markdownTable(size.coreModules.slice(0, 15)),
  "",
  "## Reproduce",
  "",
  markdownTable(
    BENCHES.map((b) => ({
      bench: b.id,
      "npm script": `\`npm run ${b.npm}\``,
      "what this report ran (after `npm run build`)": `\`${command(b)}\``,
    })),
  ),
  "",
  "`npm run bench:report` runs all of them and rewrites this page; `npm run bench:report -- --reuse` re-renders it from the last run's JSON. `node scripts/size.mjs --check` exits 1 when a bundle budget is exceeded.",
  "",
].join("\n");
writeFileSync(join(root, "docs", "benchmarks.md"), md);
// Biome formats markdown too (`npm run lint` checks docs/): hand it the file so it stays clean.
spawnSync(join(root, "node_modules", ".bin", "biome"), ["format", "--write", "docs/benchmarks.md"], {
  cwd: root,
  stdio: "ignore",
});
console.log("\nwrote docs/benchmarks.md and docs/benchmarks-throughput.svg");
