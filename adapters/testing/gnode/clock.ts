/**
 * The emulator's sense of time. Message ids, delays, TTR deadlines and topic start times read it;
 * socket-level timers (heartbeats, the `ping` deadline, the channel publish timeout) stay on real
 * time because they model the network, not the broker's bookkeeping.
 */

/** Milliseconds since the Unix epoch, like `Date.now()`. */
export interface GnodeClock {
  now(): number;
}

export const systemClock: GnodeClock = { now: () => Date.now() };

/** A clock that moves only when told to; pair it with `node.scan()` to test delays and TTR without sleeping. */
export interface ManualClock extends GnodeClock {
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

/** Whole Unix seconds, as gnode compares them (`time.Now().Unix()`). */
export const unixSeconds = (clock: GnodeClock): number => Math.floor(clock.now() / 1000);
