// Bundle sizes for the browser, against the budgets in DESIGN.md.
//
//   node scripts/size.mjs [--check] [--json <file>] [--top 15]
//
// Each browser entry point and the realistic combinations are bundled from the sources with
// esbuild (platform browser, ESM, minified, tree-shaken; `gmq`/`gmq/<name>` resolved as
// bench/browser-support.mjs does), then gzipped at level 9. An adapter's own cost is what it adds
// beyond the core and beyond its third-party library: (core + adapter) − core − library alone,
// where "library alone" imports exactly what the adapter imports from it. Because gzip shares
// context, (core + adapter) − (core + library) in one bundle is also shown; the budget is
// checked on the larger of the two. KB = 1024 bytes.
//
// --check exits 1 when a budget is exceeded, naming it. Also lists the largest modules of the
// core bundle (esbuild metafile), to show where to slim it.
import { readFileSync, writeFileSync } from "node:fs";
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

const CORE = 'export { createClient } from "gmq";';
/** name → module text. Exporting what is imported keeps it from being shaken out. */
const BUNDLES = {
  "gmq (everything)": 'export * from "gmq";',
  "gmq/mqtt (entry)": 'export * from "gmq/mqtt";',
  "gmq/mqant (entry)": 'export * from "gmq/mqant";',
  "gmq/store-indexeddb (entry)": 'export * from "gmq/store-indexeddb";',
  "gmq/websocket (entry)": 'export * from "gmq/websocket";',
  "gmq/grpc-web (entry)": 'export * from "gmq/grpc-web";',
  "gmq/http (entry)": 'export * from "gmq/http";',
  core: CORE,
  "core + mqtt": `${CORE} export { mqtt } from "gmq/mqtt";`,
  "core + mqant": `${CORE} export { mqant } from "gmq/mqant";`,
  "core + store-indexeddb": `${CORE} export { indexedDbStore } from "gmq/store-indexeddb";`,
  "core + websocket": `${CORE} export { websocket } from "gmq/websocket";`,
  "core + mqtt + store-indexeddb": `${CORE} export { mqtt } from "gmq/mqtt"; export { indexedDbStore } from "gmq/store-indexeddb";`,
  "core + gnode-http": `${CORE} export { gnodeHttp } from "gmq/gnode-http";`,
  // Node only (node:net): measured the same way, with Node's built-ins left out of the bundle.
  "core + gnode": `${CORE} export { gnode } from "gmq/gnode";`,
  "core + grpc-web": `${CORE} export { grpcWeb, rpc } from "gmq/grpc-web";`,
  "core + http": `${CORE} export { http } from "gmq/http";`,
  // Third-party libraries as the adapters import them (adapters/mqtt, adapters/mqant: the mqtt
  // default export; adapters/store-indexeddb: createStore and promisifyRequest).
  "lib: mqtt": 'export { default } from "mqtt";',
  "lib: idb-keyval": 'export { createStore, promisifyRequest } from "idb-keyval";',
  // adapters/websocket: isomorphic-ws's default export (in a browser, the global WebSocket).
  "lib: isomorphic-ws": 'export { default } from "isomorphic-ws";',
  // adapters/grpc-web: what it imports from nice-grpc-web.
  "lib: nice-grpc-web":
    'export { ClientError, createChannel, createClient as niceClient, FetchTransport, Metadata, Status } from "nice-grpc-web";',
  "core + lib: mqtt": `${CORE} export { default } from "mqtt";`,
  "core + lib: idb-keyval": `${CORE} export { createStore, promisifyRequest } from "idb-keyval";`,
  "core + lib: isomorphic-ws": `${CORE} export { default } from "isomorphic-ws";`,
  // The gnode adapters use no third-party library (etcd3 is an optional, lazily imported one).
  "lib: none": "export {};",
  "core + lib: nice-grpc-web": `${CORE} export { ClientError, createChannel, createClient as niceClient, FetchTransport, Metadata, Status } from "nice-grpc-web";`,
  "core + lib: none": CORE,
};

const ADAPTERS = [
  { adapter: "gmq/mqtt", bundle: "core + mqtt", lib: "mqtt" },
  { adapter: "gmq/mqant", bundle: "core + mqant", lib: "mqtt" },
  { adapter: "gmq/store-indexeddb", bundle: "core + store-indexeddb", lib: "idb-keyval" },
  { adapter: "gmq/websocket", bundle: "core + websocket", lib: "isomorphic-ws" },
  { adapter: "gmq/gnode-http", bundle: "core + gnode-http", lib: "none" },
  { adapter: "gmq/gnode", bundle: "core + gnode", lib: "none" },
  { adapter: "gmq/grpc-web", bundle: "core + grpc-web", lib: "nice-grpc-web", limit: 3 * KB },
  { adapter: "gmq/http", bundle: "core + http", lib: "none" },
];

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
    external: ["node:*", "etcd3"],
    absWorkingDir: root, // metafile paths relative to the project, wherever this runs from
    logLevel: "error",
  });
  const code = result.outputFiles[0].contents;
  return { min: code.length, gz: gzipSync(code, { level: 9 }).length, metafile: result.metafile };
}

const sizes = {};
for (const [name, contents] of Object.entries(BUNDLES)) sizes[name] = await measure(contents);

const kb = (bytes) => `${(bytes / KB).toFixed(2)} KB`;
const signed = (bytes) => (bytes >= 0 ? `+${kb(bytes)}` : `−${kb(-bytes)}`);
const core = sizes.core;

const bundleRows = Object.entries(sizes).map(([name, s]) => ({
  bundle: name,
  minified: s.min,
  gzip: s.gz,
  "gzip KB": kb(s.gz),
  "gzip beyond core": name.startsWith("core +") && !name.includes("lib:") ? signed(s.gz - core.gz) : "",
}));

const adapterRows = ADAPTERS.map(({ adapter, bundle, lib, limit = 4 * KB }) => {
  const withAdapter = sizes[bundle].gz;
  const libAlone = sizes[`lib: ${lib}`].gz;
  const separate = withAdapter - core.gz - libAlone;
  const together = withAdapter - sizes[`core + lib: ${lib}`].gz;
  return {
    adapter,
    library: lib,
    "library alone gz": libAlone,
    "beyond core gz": withAdapter - core.gz,
    "beyond core − library": separate,
    "beyond core+library bundle": together,
    own: Math.max(separate, together),
    limit,
  };
});

const budgets = [
  { budget: "core ≤ 6 KB gz", measured: core.gz, limit: 6 * KB },
  { budget: "core + websocket adapter ≤ 15 KB gz", measured: sizes["core + websocket"].gz, limit: 15 * KB },
  ...adapterRows.map(({ limit, ...row }) => ({
    budget: `${row.adapter} adds ≤ ${limit / KB} KB gz beyond core and ${row.library}`,
    measured: row.own,
    limit,
  })),
].map((b) => ({
  ...b,
  result: b.measured === undefined ? "n/a" : b.measured <= b.limit ? "PASS" : "FAIL",
}));

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
console.log("\nAdapters (gzip bytes; `own` = the larger of the two estimates, checked against 4 KB):\n");
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
if (args.check && failed.length > 0) {
  for (const b of failed) console.error(`size budget exceeded: ${b.budget}: ${b.measured} B > ${b.limit} B`);
  process.exit(1);
}
