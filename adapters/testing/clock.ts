/**
 * The emulators' sense of time: gnode's ids, delays, TTR deadlines; gw123's token expiry, SMS rate
 * limit and created_at. Tests move a manual one instead of sleeping. Socket-level timers stay on
 * real time, as they model the network rather than a server's bookkeeping.
 */

/** Milliseconds since the Unix epoch, like `Date.now()`. */
export interface TestClock {
  now(): number;
}

export const systemClock: TestClock = { now: () => Date.now() };

/** A clock that moves only when told to; with gnode, pair it with `node.scan()`. */
export interface ManualClock extends TestClock {
  /** Move forward by `ms` (must be ≥ 0). Returns the new time. */
  advance(ms: number): number;
  /** Jump to an absolute time. Going backwards is allowed; ids stay increasing regardless. */
  set(ms: number): void;
}

export function createManualClock(startMs: number = Date.now()): ManualClock {
  if (!Number.isFinite(startMs)) throw new RangeError("startMs must be a finite number");
  let current = Math.floor(startMs);
  return {
    now: () => current,
    advance(ms: number) {
      if (!(ms >= 0)) throw new RangeError("advance(ms) needs ms >= 0");
      current += Math.floor(ms);
      return current;
    },
    set(ms: number) {
      if (!Number.isFinite(ms)) throw new RangeError("set(ms) needs a finite number");
      current = Math.floor(ms);
    },
  };
}

/** Whole Unix seconds, as the Go servers compare them (`time.Now().Unix()`). */
export const unixSeconds = (clock: TestClock): number => Math.floor(clock.now() / 1000);
