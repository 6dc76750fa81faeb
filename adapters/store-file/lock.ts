/**
 * One outbox, one owner: an exclusive lock file next to the log, naming the owner process.
 *
 * The lock is created atomically by hard-linking a fully written temp file to the lock path (link
 * fails with EEXIST when it exists), so another process never reads a half-written lock. A lock
 * whose process is gone (SIGKILL, power loss) is stale and taken over, so a crash never blocks
 * the outbox for good. Two processes taking over the same stale lock serialise on a short-lived
 * `.takeover` guard, so one of them cannot delete the fresh lock the other just made.
 *
 * "Gone" is judged by more than the pid, which the OS hands out again: the lock records the
 * owner's boot id and start time (process-identity.ts), so a pid now used by an unrelated process
 * (after a reboot, a container restart, or just time) is recognised as stale.
 */
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import type { GmqError } from "gmq";
import { errnoCode, storageError } from "./errors.js";
import {
  bootTime,
  currentBoot,
  type ProcessIdentity,
  processIdentity,
  startedAt,
} from "./process-identity.js";

interface LockOwner {
  pid: number;
  host: string;
  token: string;
  createdAt: number;
  /** The owner's boot id and start time (Linux); absent in locks of older gmq versions. */
  boot?: string;
  start?: string;
}

/** Locks held by stores in this process: a second store on the same path must fail even though
 *  the pid in the file is alive (it is ours). */
const heldInProcess = new Set<string>();

/** A guard older than this belongs to a taker that died mid-takeover. */
const GUARD_STALE_MS = 10_000;
/** Slack for wall-clock comparisons (clock steps, tick rounding): a lock is judged by the wall
 *  clock only when it names no start time, and then only this far off counts. */
const CLOCK_SLACK_MS = 60_000;

export interface FileLock {
  readonly lockPath: string;
  /** Removes the lock file if it is still ours. Never throws. */
  release(): Promise<void>;
}

export async function acquireLock(outboxPath: string): Promise<FileLock> {
  const lockPath = resolve(`${outboxPath}.lock`);
  if (heldInProcess.has(lockPath)) {
    throw lockedError(outboxPath, lockPath, { pid: process.pid, host: hostname(), token: "", createdAt: 0 });
  }
  // Reserved before the first await, so two opens racing in this process cannot both pass.
  heldInProcess.add(lockPath);
  try {
    const owner: LockOwner = {
      pid: process.pid,
      host: hostname(),
      token: randomBytes(8).toString("hex"),
      createdAt: Date.now(),
      ...processIdentity(process.pid),
    };
    await createLockFile(outboxPath, lockPath, owner);
    return {
      lockPath,
      release: async () => {
        try {
          const current = parseOwner(await fs.readFile(lockPath, "utf8"));
          if (current?.token === owner.token) await fs.unlink(lockPath);
        } catch {
          // Already gone, or unreadable: nothing of ours to remove.
        } finally {
          heldInProcess.delete(lockPath);
        }
      },
    };
  } catch (error) {
    heldInProcess.delete(lockPath);
    throw error;
  }
}

async function createLockFile(outboxPath: string, lockPath: string, owner: LockOwner): Promise<void> {
  const temp = `${lockPath}.${owner.token}.tmp`;
  const handle = await fs.open(temp, "wx");
  try {
    await handle.writeFile(JSON.stringify(owner));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    // Bounded: each round either wins, fails, or removes one stale lock.
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await fs.link(temp, lockPath);
        return;
      } catch (error) {
        if (errnoCode(error) !== "EEXIST") throw error;
      }
      const seen = await readLock(lockPath);
      if (seen === undefined) continue; // released between our link and our read
      if (seen.owner && isAlive(seen.owner)) throw lockedError(outboxPath, lockPath, seen.owner);
      await removeStale(outboxPath, lockPath, seen.text);
    }
    throw storageError(`could not lock outbox ${outboxPath}: lock ${lockPath} keeps changing`, "LOCKED");
  } finally {
    await fs.unlink(temp).catch(() => {});
  }
}

async function readLock(
  lockPath: string,
): Promise<{ text: string; owner: LockOwner | undefined } | undefined> {
  try {
    const text = await fs.readFile(lockPath, "utf8");
    return { text, owner: parseOwner(text) };
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw error;
  }
}

/** Deletes the lock only if it still holds exactly the stale content we judged, under the guard. */
async function removeStale(outboxPath: string, lockPath: string, staleText: string): Promise<void> {
  const guard = `${lockPath}.takeover`;
  try {
    await (await fs.open(guard, "wx")).close();
  } catch (error) {
    if (errnoCode(error) !== "EEXIST") throw error;
    const age = await fs.stat(guard).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > GUARD_STALE_MS) {
      await fs.unlink(guard).catch(() => {});
      return;
    }
    throw storageError(
      `outbox ${outboxPath} is locked: another process is taking over the stale lock ${lockPath}`,
      "LOCKED",
    );
  }
  try {
    const now = await readLock(lockPath);
    if (now?.text === staleText) await fs.unlink(lockPath);
  } finally {
    await fs.unlink(guard).catch(() => {});
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (typeof value.pid === "number" && typeof value.host === "string" && typeof value.token === "string") {
      return value as LockOwner;
    }
  } catch {
    // Unreadable content can only come from a crash before the lock was synced: stale.
  }
  return undefined;
}

function isAlive(owner: LockOwner): boolean {
  // A pid means nothing on another host (shared or network file system): assume it is alive.
  if (owner.host !== hostname()) return true;
  // Our pid, yet no other store here holds it (checked before we reserved it): left by an earlier
  // process that had the same pid (containers restart as pid 1), so it is stale.
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if (errnoCode(error) !== "EPERM") return false; // no such process
    // EPERM: it exists, owned by another user; judge it like any live pid below.
  }
  return !reused(owner, processIdentity(owner.pid));
}

/** Whether the live process now holding `owner.pid` cannot be the one that wrote the lock. */
function reused(owner: LockOwner, now: ProcessIdentity | undefined): boolean {
  // Written in an earlier boot: whatever holds the pid now is another process.
  const boot = currentBoot();
  if (owner.boot !== undefined && boot !== undefined && owner.boot !== boot) return true;
  if (now) {
    if (owner.boot !== undefined && owner.start !== undefined) {
      return owner.boot !== now.boot || owner.start !== now.start;
    }
    // A lock without a start time (an older gmq): a process that started after the lock was
    // written cannot have written it.
    return startedAt(now) > owner.createdAt + CLOCK_SLACK_MS;
  }
  // No /proc: a lock written before the last boot names a process of that boot.
  return owner.createdAt < bootTime() - CLOCK_SLACK_MS;
}

function lockedError(outboxPath: string, lockPath: string, owner: LockOwner): GmqError {
  const ours = owner.pid === process.pid && owner.host === hostname();
  const who = ours ? "another store in this process" : `process ${owner.pid} on ${owner.host}`;
  const since = owner.createdAt > 0 ? ` since ${new Date(owner.createdAt).toISOString()}` : "";
  const recover = ours
    ? "close that store first"
    : `if that process is not a gmq store using this outbox (say the lock came with a copy of ` +
      `the directory, or from a machine that is gone), delete ${lockPath} and open it again`;
  return storageError(
    `outbox ${outboxPath} is locked by ${who}${since} (lock file ${lockPath}); only one store may open it: ${recover}`,
    "LOCKED",
    undefined,
    { path: outboxPath, lockPath, pid: owner.pid, host: owner.host, createdAt: owner.createdAt },
  );
}
