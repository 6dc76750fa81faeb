// Shared by the benches: loading the built package, the machine they run on, the brokers to
// measure on, servers in a process of their own, statistics, the result table and the --json output.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * The package as users get it: `dist/` from `npm run build`. With `--from-source` (or when dist
 * has no mqtt entry yet) the sources are bundled with esbuild into a temp dir of the same shape.
 */
export async function loadPackage(fromSource) {
  const dist = join(root, "dist");
  let dir = dist;
  let cleanup = () => {};
  let hasDist = true;
  try {
    accessSync(join(dist, "mqtt.js"));
  } catch {
    hasDist = false;
  }
  if (fromSource || !hasDist) {
    if (!fromSource)
      console.log(
        "dist/mqtt.js not found: bundling the sources instead (run `npm run build` to measure dist)",
      );
    const { build } = await import("esbuild");
    // Inside the project (.tmp is ignored by git), so bare imports resolve from its node_modules.
    mkdirSync(join(root, ".tmp"), { recursive: true });
    dir = mkdtempSync(join(root, ".tmp", "bench-"));
    cleanup = () => rmSync(dir, { recursive: true, force: true });
    await build({
      entryPoints: {
        index: join(root, "src/index.ts"),
        mqtt: join(root, "adapters/mqtt/index.ts"),
        testing: join(root, "adapters/testing/index.ts"),
        "store-file": join(root, "adapters/store-file/index.ts"),
      },
      outdir: dir,
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      // Like tsup: the core stays one shared module, everything from npm stays external.
      external: ["gmq", "mqtt", "aedes", "ws", "isomorphic-ws", "eventemitter3", "idb-keyval"],
    });
    for (const name of ["mqtt.js", "testing.js", "store-file.js"]) {
      const file = join(dir, name);
      writeFileSync(file, readFileSync(file, "utf8").replaceAll(/from\s*"gmq"/g, 'from "./index.js"'));
    }
    writeFileSync(join(dir, "package.json"), '{"type":"module"}');
  }
  const load = (name) => import(pathToFileURL(join(dir, name)).href);
  const [core, adapter, testing, storeFile] = await Promise.all(
    ["index.js", "mqtt.js", "testing.js", "store-file.js"].map(load),
  );
  const source = fromSource || !hasDist ? "sources (esbuild)" : "dist";
  return { core, adapter, testing, storeFile, source, cleanup };
}

/** What a result was measured on, printed with it and kept in --json output. */
export function machine() {
  const cpu = cpus();
  return {
    node: process.version,
    cpu: cpu[0]?.model.trim() ?? "unknown",
    cores: cpu.length,
    os: process.platform,
  };
}

export const machineLine = () => {
  const m = machine();
  return `node ${m.node}, ${m.cpu} (${m.cores} cores), ${m.os}`;
};

/** `--json <file>`: the same rows as printed, plus what they were measured on. */
export function writeJson(file, bench, params, results) {
  if (!file) return;
  const data = { bench, date: new Date().toISOString(), machine: machine(), params, ...results };
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const portOpen = (port) =>
  new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });

/**
 * A bench's server in a process of its own (as a real deployment would run it): `script` with
 * `args`, which prints one JSON line per message to stdout (its addresses first) and exits when
 * its stdin closes. `read()` is the next line, parsed; `stop()` closes stdin, waits for the exit.
 */
export async function startServerProcess(script, args = []) {
  const child = spawn(process.execPath, [script, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const read = async () => JSON.parse((await lines.next()).value);
  const stop = async () => {
    child.stdin.end();
    await once(child, "exit");
  };
  return { ready: await read(), read, stop };
}

/** Mosquitto from the system on a free port, or undefined when it is not installed. */
export async function startMosquitto() {
  const binary = "/usr/sbin/mosquitto";
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    console.log(`(${binary} not found: measuring on aedes only)`);
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), "gmq-bench-mosquitto-"));
  const port = await freePort();
  const config = join(dir, "mosquitto.conf");
  writeFileSync(
    config,
    `listener ${port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\npersistence false\nmax_queued_messages 1000000\nmax_inflight_messages 0\n`,
  );
  const child = spawn(binary, ["-c", config], { stdio: "ignore" });
  const deadline = Date.now() + 10_000;
  while (!(await portOpen(port))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error("mosquitto did not start");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    pid: child.pid,
    close: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The brokers to measure on, each with the options gmq and raw mqtt.js use there: aedes speaks
 * 3.1.1 only (gmq with its envelope), Mosquitto speaks 5 (gmq with user properties). `only` is a
 * comma-separated list (`--brokers mosquitto` on the bench command lines).
 */
export async function startBrokers(testing, only = "aedes,mosquitto") {
  const wanted = new Set(only.split(","));
  const brokers = [];
  if (wanted.has("aedes")) {
    const aedes = await testing.startBroker();
    brokers.push({
      name: "aedes 3.1.1",
      url: aedes.tcpUrl,
      version: 4,
      gmq: { protocolVersion: 4, envelope: true, sharedSubscriptions: false },
      close: () => aedes.close(),
    });
  }
  const mosquitto = wanted.has("mosquitto") ? await startMosquitto() : undefined;
  if (mosquitto)
    brokers.push({
      name: "mosquitto 5",
      url: mosquitto.url,
      version: 5,
      gmq: { protocolVersion: 5 },
      close: mosquitto.close,
    });
  return brokers;
}

/** Runs `work` and returns what it returned with the process's CPU time (user + system, ms). */
export async function withCpu(work) {
  const before = process.cpuUsage();
  const result = await work();
  const used = process.cpuUsage(before);
  return { ...result, cpuMs: (used.user + used.system) / 1000 };
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const median = (values) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

export function waitUntil(predicate, timeoutMs, what) {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (predicate()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setImmediate(check);
    };
    check();
  });
}

/** Like waitUntil, but checks every millisecond instead of every tick (no busy loop). */
export function pollUntil(predicate, timeoutMs, what) {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (predicate()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(check, 1);
    };
    check();
  });
}

/** Prints rows of objects as an aligned table. */
export function printTable(rows) {
  const keys = Object.keys(rows[0]);
  const cells = [keys, ...rows.map((row) => keys.map((key) => String(row[key])))];
  const widths = keys.map((_, i) => Math.max(...cells.map((line) => line[i].length)));
  for (const [index, line] of cells.entries()) {
    console.log(
      line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  "),
    );
    if (index === 0) console.log(widths.map((width) => "-".repeat(width)).join("  "));
  }
}
