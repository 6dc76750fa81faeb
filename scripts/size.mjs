// Bundle sizes for the browser, against the budgets in DESIGN.md.
//
//   node scripts/size.mjs [--check] [--json <file>] [--top 15]
//
// Every bundle is built from the sources with esbuild (platform browser, ESM, minified,
// tree-shaken; `gmq`/`gmq/<name>` resolved as bench/browser-support.mjs does), then gzipped at
// level 9. KB = 1024 bytes.
//
// - The core is everything `gmq` exports (`export * from "gmq"`: createClient with call/handle,
//   the codecs, the helpers adapters and stores use).
// - An adapter's own bytes are what it adds beyond the core and beyond its third-party library:
//   (core + adapter) − core − library alone, where "library alone" imports exactly what the
//   adapter imports from it. Because gzip shares context, (core + adapter) − (core + library) in
//   one bundle is also computed; the budget is checked on the larger of the two. An adapter with
//   no third-party library: (core + adapter) − core.
// - A combination (core + an adapter) is checked whole.
//
// To add an adapter, add a row to ADAPTERS (and, for a combined budget, to COMBINATIONS). A row
// whose adapter does not exist yet (no adapters/<name>/index.ts) is reported as SKIP with the
// reason, never as a failure.
//
// --check exits 1 when a budget is exceeded, naming it. Also lists the largest modules of the
// core bundle (esbuild metafile), to show where to slim it.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { build, transform } from "esbuild";
import { gmqSources } from "../bench/browser-support.mjs";
import { markdownTable } from "./markdown.mjs";

const { values: args } = parseArgs({
  options: {
    check: { type: "boolean", default: false },
    json: { type: "string" },
    top: { type: "string", default: "15" },
  },
});
const root = fileURLToPath(new URL("..", import.meta.url));
const KB = 1024;

/** The core budget: everything `gmq` exports. */
const CORE = { text: 'export * from "gmq";', budgetKB: 12 };

/** Third-party libraries, as the adapters import them. */
const LIBRARIES = {
  mqtt: 'export { default } from "mqtt";',
  "idb-keyval": 'export { createStore, del, get, promisifyRequest, set } from "idb-keyval";',
  // In a browser, isomorphic-ws is the global WebSocket.
  "isomorphic-ws": 'export { default } from "isomorphic-ws";',
  "nice-grpc-web":
    'export { ClientError, createChannel, createClient, FetchTransport, Metadata, Status } from "nice-grpc-web";',
};

/**
 * One row per adapter entry: its library (a LIBRARIES key, or undefined) and its budget for its
 * own bytes. The entry is measured whole (`export * from "gmq/<name>"`).
 */
const ADAPTERS = [
  { entry: "gmq/mqtt", library: "mqtt", budgetKB: 7.5 },
  { entry: "gmq/mqant", library: "mqtt", budgetKB: 4 },
  { entry: "gmq/store-indexeddb", library: "idb-keyval", budgetKB: 4 },
  { entry: "gmq/websocket", library: "isomorphic-ws", budgetKB: 4 },
  { entry: "gmq/grpc-web", library: "nice-grpc-web", budgetKB: 3 },
  { entry: "gmq/http", budgetKB: 4 },
  { entry: "gmq/gnode-http", budgetKB: 4 },
  // Node only: measured the same way, with Node's built-ins (and the optional etcd3) left out.
  { entry: "gmq/gnode", budgetKB: 4 },
];

/** Budgets on the core and an adapter together. */
const COMBINATIONS = [{ entries: ["gmq/websocket"], budgetKB: 15 }];

const adapterDir = (entry) => join(root, "adapters", entry.slice("gmq/".length));
const exists = (entry) => existsSync(join(adapterDir(entry), "index.ts"));
const missing = (entry) => `SKIP: ${entry} does not exist yet (no adapters/${entry.slice(4)}/index.ts)`;

async function measure(contents) {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: "js", sourcefile: "size-entry.js" },
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    treeShaking: true,
    metafile: true,
    plugins: [gmqSources],
    // Node-only adapters (gmq/gnode) are measured without Node's built-ins and optional peers.
    external: ["node:*", "etcd3"],
    absWorkingDir: root, // metafile paths relative to the project, wherever this runs from
    logLevel: "error",
  });
  const code = result.outputFiles[0].contents;
  return { min: code.length, gz: gzipSync(code, { level: 9 }).length, metafile: result.metafile };
}

const kb = (bytes) => `${(bytes / KB).toFixed(2)} KB`;
const signed = (bytes) => (bytes >= 0 ? `+${kb(bytes)}` : `−${kb(-bytes)}`);
const verdict = (measured, limit) => (measured <= limit ? "PASS" : "FAIL");

/** name → { min, gz, metafile }, every bundle measured once. */
const sizes = {};
const bundleRows = [];
async function bundle(name, contents) {
  sizes[name] ??= await measure(contents);
  return sizes[name];
}

const core = await bundle("core: everything gmq exports", CORE.text);
await bundle("core: createClient only", 'export { createClient } from "gmq";');
const budgets = [
  {
    budget: `core (everything gmq exports) ≤ ${CORE.budgetKB} KB gz`,
    measured: core.gz,
    limit: CORE.budgetKB * KB,
    result: verdict(core.gz, CORE.budgetKB * KB),
  },
];

const adapterRows = [];
for (const { entry, library, budgetKB } of ADAPTERS) {
  const limit = budgetKB * KB;
  const budget = `${entry} own bytes (beyond core${library ? ` and ${library}` : ""}) ≤ ${budgetKB} KB gz`;
  if (!exists(entry)) {
    budgets.push({ budget, measured: undefined, limit, result: missing(entry) });
    continue;
  }
  await bundle(`${entry} (entry alone)`, `export * from "${entry}";`);
  const withAdapter = (await bundle(`core + ${entry}`, `${CORE.text} export * from "${entry}";`)).gz;
  let own = withAdapter - core.gz;
  const row = { adapter: entry, library: library ?? "—", "beyond core gz": own };
  if (library) {
    const alone = (await bundle(`lib: ${library}`, LIBRARIES[library])).gz;
    const together = (await bundle(`core + lib: ${library}`, `${CORE.text} ${LIBRARIES[library]}`)).gz;
    const separate = withAdapter - core.gz - alone;
    const inOneBundle = withAdapter - together;
    own = Math.max(separate, inOneBundle);
    Object.assign(row, {
      "library alone gz": alone,
      "beyond core − library": separate,
      "beyond core+library bundle": inOneBundle,
    });
  }
  row.own = own;
  adapterRows.push(row);
  budgets.push({ budget, measured: own, limit, result: verdict(own, limit) });
}

for (const { entries, budgetKB } of COMBINATIONS) {
  const name = `core + ${entries.join(" + ")}`;
  const limit = budgetKB * KB;
  const budget = `${name} ≤ ${budgetKB} KB gz`;
  const absent = entries.find((entry) => !exists(entry));
  if (absent) {
    budgets.push({ budget, measured: undefined, limit, result: missing(absent) });
    continue;
  }
  const text = `${CORE.text} ${entries.map((entry) => `export * from "${entry}";`).join(" ")}`;
  const measured = (await bundle(name, text)).gz;
  budgets.push({ budget, measured, limit, result: verdict(measured, limit) });
}

for (const [name, s] of Object.entries(sizes)) {
  bundleRows.push({
    bundle: name,
    minified: s.min,
    gzip: s.gz,
    "gzip KB": kb(s.gz),
    "gzip beyond core": name.startsWith("core + ") && !name.includes("lib:") ? signed(s.gz - core.gz) : "",
  });
}

// Largest modules of the core bundle: bytes each leaves in the minified output, and, as a rough
// guide to its gzip weight, the module minified and gzipped on its own (not tree-shaken).
const coreInputs = Object.values(core.metafile.outputs)[0].inputs;
const totalIn = Object.values(coreInputs).reduce((n, input) => n + input.bytesInOutput, 0);
const modules = [];
for (const [path, input] of Object.entries(coreInputs)) {
  if (input.bytesInOutput === 0) continue;
  const alone = await transform(readFileSync(join(root, path)), {
    loader: path.endsWith(".ts") ? "ts" : "js",
    minify: true,
    target: "es2022",
  });
  modules.push({
    module: path.replace(/^.*node_modules\//, "node_modules/"),
    "minified in bundle": input.bytesInOutput,
    share: `${((input.bytesInOutput / totalIn) * 100).toFixed(1)}%`,
    "gzip alone": gzipSync(alone.code, { level: 9 }).length,
  });
}
modules.sort((a, b) => b["minified in bundle"] - a["minified in bundle"]);

const esbuildVersion = JSON.parse(readFileSync(`${root}node_modules/esbuild/package.json`, "utf8")).version;
const cpu = cpus()[0]?.model.trim() ?? "unknown";
console.log(
  `Bundle sizes: esbuild ${esbuildVersion}, platform browser, ESM, minify, gzip -9; node ${process.version}, ${cpu}\n`,
);
console.log(markdownTable(bundleRows));
console.log(
  "\nAdapters (gzip bytes; `own` = the larger of the two estimates, checked against the budget):\n",
);
console.log(markdownTable(adapterRows));
console.log("\nBudgets (DESIGN.md):\n");
console.log(
  markdownTable(
    budgets.map((b) => ({
      budget: b.budget,
      measured: b.measured === undefined ? "—" : `${b.measured} B (${kb(b.measured)})`,
      limit: `${b.limit} B`,
      result: b.result,
    })),
  ),
);
const top = Number(args.top);
console.log(`\nLargest modules in the core bundle (minified bytes in output; ${totalIn} B in all):\n`);
console.log(markdownTable(modules.slice(0, top)));

if (args.json) {
  const data = {
    bench: "size",
    date: new Date().toISOString(),
    machine: { node: process.version, cpu, esbuild: esbuildVersion },
    bundles: bundleRows,
    adapters: adapterRows,
    budgets,
    coreModules: modules,
  };
  writeFileSync(args.json, `${JSON.stringify(data, null, 2)}\n`);
  console.log(`\nwrote ${args.json}`);
}

const failed = budgets.filter((b) => b.result === "FAIL");
if (args.check) {
  for (const b of failed) console.error(`size budget exceeded: ${b.budget}: ${b.measured} B > ${b.limit} B`);
  if (failed.length > 0) process.exit(1);
  console.log(`\nsize:check: ${budgets.filter((b) => b.result === "PASS").length} budgets met`);
}
