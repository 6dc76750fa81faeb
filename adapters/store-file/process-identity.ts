/**
 * Who a pid is, beyond the number: a pid is reused once its process is gone (after a crash, a
 * reboot, a container restart), so a lock that names only a pid can end up naming an unrelated
 * live process. On Linux, /proc gives each process a start time in clock ticks since boot and the
 * system a random boot id: the pair names one process for good. Elsewhere only the boot time is
 * known, which still tells a lock written before the last reboot.
 */
import { readFileSync } from "node:fs";
import { uptime } from "node:os";

export interface ProcessIdentity {
  /** /proc/sys/kernel/random/boot_id: changes at every boot. */
  readonly boot: string;
  /** Field 22 of /proc/<pid>/stat: the process's start, in clock ticks since boot. */
  readonly start: string;
}

/** Linux's USER_HZ, the unit of /proc start times (100 on every mainstream architecture). */
const TICKS_PER_SECOND = 100;

let bootId: string | null | undefined;

/** This boot's id, where /proc has one. */
export function currentBoot(): string | undefined {
  if (bootId === undefined) {
    try {
      bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || null;
    } catch {
      bootId = null;
    }
  }
  return bootId ?? undefined;
}

/** The identity of a live process, or undefined where /proc is not available (or it is gone). */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  const boot = currentBoot();
  if (!boot) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = fields[19]; // field 22 overall; fields[0] is field 3 (state)
    return start && /^\d+$/.test(start) ? { boot, start } : undefined;
  } catch {
    return undefined;
  }
}

/** Epoch ms when the process with `identity` started (wall clock, so only roughly). */
export function startedAt(identity: ProcessIdentity): number {
  return bootTime() + (Number(identity.start) / TICKS_PER_SECOND) * 1000;
}

/** Epoch ms of the last boot (wall clock). */
export function bootTime(): number {
  return Date.now() - uptime() * 1000;
}
