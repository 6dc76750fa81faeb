/**
 * The file outbox's lock: one store per outbox, across processes and within one; a stale lock (its
 * process dead, or its pid now another process's, or from an earlier boot) is taken over; a live
 * owner's lock is respected, with an error that says how to recover.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { record } from "gmq/contract";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type FileOutboxStore, fileStore } from "../adapters/store-file/index.js";
import { processIdentity } from "../adapters/store-file/process-identity.js";
import { GmqError } from "../src/errors.js";
import { recordScenario } from "./support/reliability.js";

const root = mkdtempSync(join(tmpdir(), "gmq-store-lock-"));
let dir = root;
let n = 0;
const freshDir = (): string => {
  dir = join(root, `t${n++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Stores opened by a test, closed after it even when it fails. */
const opened: FileOutboxStore[] = [];
const open = (options: Partial<Parameters<typeof fileStore>[0]> = {}): FileOutboxStore => {
  const store = fileStore({ path: join(dir, "outbox.log"), ...options });
  opened.push(store);
  return store;
};
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close().catch(() => {});
});

describe("file store: lock", () => {
  it("a second store on the same path fails with LOCKED naming it, until the first closes", async () => {
    freshDir();
    const first = open();
    await first.load();
    const error = await open()
      .load()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GmqError);
    expect(error).toMatchObject({ code: "storage", reason: "LOCKED" });
    expect((error as GmqError).message).toContain(first.path);
    await first.close();
    const second = open();
    expect(await second.load()).toEqual([]);
  });

  it("takes over the stale lock of a dead process", async () => {
    freshDir();
    const dead = await deadPid();
    const path = join(dir, "outbox.log");
    await writeFile(
      `${path}.lock`,
      JSON.stringify({ pid: dead, host: hostname(), token: "x", createdAt: 0 }),
    );
    const store = open();
    await store.put([record(1)]);
    const lock = JSON.parse(await readFile(`${path}.lock`, "utf8")) as { pid: number };
    expect(lock.pid).toBe(process.pid);
    await store.close();
    await expect(stat(`${path}.lock`)).rejects.toMatchObject({ code: "ENOENT" });
  });

  /** A live process that has nothing to do with any outbox. */
  const unrelatedProcess = async () => {
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"], { stdio: "ignore" });
    await new Promise((resolve) => child.once("spawn", resolve));
    return child;
  };
  const writeLock = (path: string, owner: Record<string, unknown>) =>
    writeFile(`${path}.lock`, JSON.stringify({ host: hostname(), token: "x", ...owner }));
  const takesOver = async (path: string) => {
    const store = open();
    await store.put([record(1)]);
    const lock = JSON.parse(await readFile(`${path}.lock`, "utf8")) as { pid: number };
    expect(lock.pid).toBe(process.pid);
  };

  it("respects the lock of the live process that wrote it, and says how to recover", async () => {
    freshDir();
    const path = join(dir, "outbox.log");
    const child = await unrelatedProcess();
    try {
      // Exactly what that process would have written (its start time where /proc has one).
      await writeLock(path, { pid: child.pid, createdAt: Date.now(), ...processIdentity(child.pid!) });
      const error = await open()
        .load()
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "storage", reason: "LOCKED" });
      const { message } = error as GmqError;
      expect(message).toContain(`process ${child.pid}`);
      expect(message).toContain(`delete ${path}.lock`);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("takes over a lock of an older gmq naming a live process that started after it", async () => {
    freshDir();
    const path = join(dir, "outbox.log");
    const child = await unrelatedProcess();
    try {
      // No start time recorded; the lock is days older than the process now holding its pid.
      await writeLock(path, { pid: child.pid, createdAt: Date.now() - 3 * 86_400_000 });
      await takesOver(path);
    } finally {
      child.kill("SIGKILL");
    }
    recordScenario({
      scenario: "file outbox lock naming a reused pid (older lock format)",
      injected: "a lock file naming a live, unrelated process that started after the lock was written",
      kind: "hostile input",
      sent: 1,
      delivered: 1,
      duplicated: 0,
      lost: 0,
      notes: "the stale lock is taken over; the put goes through",
    });
  });

  describe.skipIf(process.platform !== "linux")("with /proc (Linux)", () => {
    it("takes over a lock whose pid now belongs to another process (start time differs)", async () => {
      freshDir();
      const path = join(dir, "outbox.log");
      const child = await unrelatedProcess();
      try {
        const identity = processIdentity(child.pid!)!;
        // Written by an earlier process with the same pid: same boot, another start time.
        await writeLock(path, {
          pid: child.pid,
          createdAt: Date.now(),
          boot: identity.boot,
          start: String(Number(identity.start) - 1),
        });
        await takesOver(path);
      } finally {
        child.kill("SIGKILL");
      }
      recordScenario({
        scenario: "file outbox lock naming a reused pid",
        injected: "a lock file naming a live, unrelated process (the owner's pid, reused)",
        kind: "hostile input",
        sent: 1,
        delivered: 1,
        duplicated: 0,
        lost: 0,
        notes: "the owner's recorded start time differs from the live process's: taken over",
      });
    });

    it("takes over a lock written before the last reboot", async () => {
      freshDir();
      const path = join(dir, "outbox.log");
      const child = await unrelatedProcess();
      try {
        const identity = processIdentity(child.pid!)!;
        await writeLock(path, {
          pid: child.pid,
          createdAt: Date.now(),
          boot: "an-earlier-boot",
          start: identity.start,
        });
        await takesOver(path);
      } finally {
        child.kill("SIGKILL");
      }
    });
  });

  it("use after close fails with `closed`, and options are checked", async () => {
    freshDir();
    const store = open();
    await store.load();
    await store.close();
    await expect(store.put([record(1)])).rejects.toMatchObject({ code: "closed" });
    await expect(store.load()).rejects.toMatchObject({ code: "closed" });
    expect(() => fileStore({ path: "" })).toThrow(
      expect.objectContaining({ code: "invalid_argument", field: "path" }),
    );
    expect(() => fileStore({ path: "x", compaction: { deadRatio: 2 } })).toThrow(
      expect.objectContaining({ field: "compaction.deadRatio" }),
    );
  });
});

/** A pid that belonged to a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const proc = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => proc.on("exit", resolve));
  return proc.pid!;
}
