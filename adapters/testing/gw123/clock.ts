/** Milliseconds since the epoch. The gw123 servers take one so tests can move time. */
export type Clock = () => number;

/** A clock that only moves when told to (token expiry, the SMS rate limit, created_at). */
export interface ManualClock extends Clock {
  /** Move forward (or back, with a negative value) by `ms`. */
  advance(ms: number): void;
  set(ms: number): void;
}

/** Starts at `startMs` (default: 2019-09-23T00:00:00Z, when the gRPC service was live). */
export function manualClock(startMs = Date.UTC(2019, 8, 23)): ManualClock {
  let now = startMs;
  const clock = (() => now) as ManualClock;
  clock.advance = (ms) => {
    now += ms;
  };
  clock.set = (ms) => {
    now = ms;
  };
  return clock;
}

/** Unix seconds, as Go's time.Now().Unix(). */
export function unixSeconds(clock: Clock): number {
  return Math.floor(clock() / 1000);
}
