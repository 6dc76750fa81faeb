/**
 * Tests that need a program from the system (mosquitto, nats-server…). A missing binary skips
 * its suite with a printed reason, except under `GMQ_REQUIRE_SYSTEM=1` (CI installs them), where
 * it fails the test file instead.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SystemBinary {
  readonly name: string;
  readonly path: string;
  readonly available: boolean;
}

/** Use as `describe.skipIf(!binary.available)(…)`. */
export function requireBinary(name: string, path: string): SystemBinary {
  let available = true;
  try {
    accessSync(path, constants.X_OK);
  } catch {
    available = false;
  }
  if (!available) {
    const reason = `${name} not found at ${path}`;
    if (process.env.GMQ_REQUIRE_SYSTEM === "1") {
      throw new Error(`${reason}, and GMQ_REQUIRE_SYSTEM=1 requires it`);
    }
    console.warn(
      `skipping the ${name} tests: ${reason} (install it, or set GMQ_REQUIRE_SYSTEM=1 to make this fail)`,
    );
  }
  return { name, path, available };
}

/** A free loopback port (the OS picks it; it stays free unless someone grabs it meanwhile). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A scratch directory, removed by the returned function. */
export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `gmq-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function writeConfig(dir: string, name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export interface RunningProcess {
  readonly process: ChildProcess;
  /** Everything it printed so far (for failure messages). */
  output(): string;
  /** SIGTERM, then SIGKILL after a grace period; resolves once it exited. */
  stop(): Promise<void>;
}

/** Starts `command` and resolves once every port in `ports` accepts connections. */
export async function startProcess(
  command: string,
  args: readonly string[],
  options: { ports: readonly number[]; timeoutMs?: number; cwd?: string },
): Promise<RunningProcess> {
  const child = spawn(command, args, { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    child.once("exit", () => resolve());
  });
  let dead = false;
  void exited.then(() => (dead = true));
  const stop = async () => {
    if (dead) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (const port of options.ports) {
    while (!(await portOpen(port))) {
      if (dead || Date.now() > deadline) {
        await stop();
        throw new Error(`${command} did not open port ${port}${dead ? " (it exited)" : ""}:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { process: child, output: () => output, stop };
}
