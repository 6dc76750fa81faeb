// A/B for gmq/gnode-http: push → pop → ack through two or more builds of the package (snapshots
// from bench/snapshot.mjs) and the hand-written `fetch` loop, in alternating rounds, to judge a
// change on a busy machine. Each client pair lives for the whole run (as in bench/gnode.mjs).
// "paired" is the median of per-round ratios against the first build, which a load spike that
// slows a whole round does not move.
//
//   npm run build && node bench/snapshot.mjs .tmp/ab/before
//   (change something) npm run build && node bench/snapshot.mjs .tmp/ab/after
//   node bench/ab-gnode.mjs .tmp/ab/before .tmp/ab/after [--n 1000] [--rounds 12] [--warmup 3]
//                           [--memory]
//
// Against the emulator in a child process (from the first snapshot), or with `--memory` against
// a `fetch` that answers from memory, so only the clients' own code runs: what a change does to
// gmq's JavaScript, without Node's `fetch` (undici), which is most of a message's cost otherwise.
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { fetchLoop, gmqClients } from "./gnode-clients.mjs";
import { median, startServerProcess, withCpu } from "./mqtt-support.mjs";

const { values: args, positionals: dirs } = parseArgs({
  allowPositionals: true,
  options: {
    n: { type: "string", default: "1000" },
    rounds: { type: "string", default: "12" },
    warmup: { type: "string", default: "3" },
    memory: { type: "boolean", default: false },
  },
});
if (dirs.length === 0) {
  console.error("usage: node bench/ab-gnode.mjs <snapshot dir>... [options]");
  process.exit(2);
}
const N = Number(args.n);
const VALUE = { text: "x".repeat(53) }; // 64 B of JSON, as bench/gnode.mjs

const server = args.memory
  ? undefined
  : await startServerProcess(fileURLToPath(new URL("./gnode-server.mjs", import.meta.url)), [
      resolve(dirs[0]),
    ]);
const url = server ? server.ready.httpUrl : "http://memory";
const fetch = server ? globalThis.fetch : memoryFetch();

const variants = [];
for (const dir of dirs) {
  const base = pathToFileURL(resolve(dir)).href;
  const [{ createClient }, { gnodeHttp }] = await Promise.all([
    import(`${base}/index.js`),
    import(`${base}/gnode-http.js`),
  ]);
  const transport = () => gnodeHttp({ url, fetch });
  const run = gmqClients({ createClient, transport, subscribeOptions: { ack: "manual" }, value: VALUE });
  variants.push({ name: dir, run, results: [] });
}
variants.push({ name: "fetch loop", run: fetchLoop({ url, value: VALUE, fetch }), results: [] });

/** One round: the rate and this process's CPU µs per message. */
async function measure(run) {
  const { rate, cpuMs } = await withCpu(async () => ({ rate: await run(N) }));
  return { rate, cpu: (cpuMs * 1000) / N };
}

try {
  for (let w = 0; w < Number(args.warmup); w++) for (const { run } of variants) await run(N);
  for (let round = 0; round < Number(args.rounds); round++) {
    // Each round starts with another variant, so none is always measured first.
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(round + i) % variants.length];
      variant.results.push(await measure(variant.run));
    }
  }
} finally {
  for (const { run } of variants) await run.close?.();
  await server?.stop();
}

const paired = (results, base, figure) => median(results.map((r, i) => r[figure] / base[i][figure]));
const first = variants[0].results;
const loop = variants.at(-1).results;
console.log(
  `\n${N} messages a round, ${args.rounds} alternating rounds after ${args.warmup} warm-up rounds, medians; ${server ? "the emulator in a child process" : "an in-memory fetch"}\n`,
);
for (const { name, results } of variants) {
  console.log(
    [
      name.padEnd(24),
      `${Math.round(median(results.map((r) => r.rate)))} msg/s`,
      `CPU ${median(results.map((r) => r.cpu)).toFixed(1)} µs/msg`,
      `paired rate vs first ${paired(results, first, "rate").toFixed(3)}`,
      `vs fetch loop ${paired(results, loop, "rate").toFixed(3)}`,
      `paired CPU vs fetch loop ${paired(results, loop, "cpu").toFixed(3)}`,
    ].join("  "),
  );
}
process.exit(0);

/**
 * A gmq node in memory, behind `fetch`: `/push` queues, `/pop` takes the oldest or waits, the rest
 * answer success. Replies are plain objects with `status`, `text()` and `json()`: no undici.
 */
function memoryFetch() {
  const queues = new Map();
  let nextId = 10n ** 18n;
  const queue = (key) => {
    if (!queues.has(key)) queues.set(key, { items: [], waiting: [] });
    return queues.get(key);
  };
  const reply = (data, msg = "success") => {
    const text = JSON.stringify({ code: 0, data, msg });
    return { status: 200, text: async () => text, json: async () => JSON.parse(text) };
  };
  return async (input, init) => {
    const target = new URL(input);
    const params = target.searchParams;
    if (target.pathname === "/push") {
      const data = JSON.parse(new URLSearchParams(`${init.body}`).get("data"));
      const message = { id: `${nextId++}`, body: data.body, retry_count: 0 };
      const q = queue(`${data.topic} ${data.route_key || "default"}`);
      const waiter = q.waiting.shift();
      if (waiter) waiter(message);
      else q.items.push(message);
      return reply({ msgId: message.id });
    }
    if (target.pathname === "/pop") {
      const q = queue(`${params.get("topic")} ${params.get("bindKey")}`);
      if (q.items.length > 0) return reply(q.items.shift());
      return new Promise((resolve) => q.waiting.push((message) => resolve(reply(message))));
    }
    return reply(null, target.pathname === "/declareQueue" ? "ok" : "success");
  };
}
