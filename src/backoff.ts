import { DEFAULTS } from "./options.js";

export interface BackoffOptions {
  /** First retry waits up to this long. Default 250 ms. */
  initialDelayMs?: number;
  /** Cap on any single wait. Default 30 s. */
  maxDelayMs?: number;
}

/** Exponential backoff with full jitter: a uniform wait in [0, min(max, initial·2^attempt)]. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random = Math.random): number {
  const initial = options.initialDelayMs ?? DEFAULTS.reconnect.initialDelayMs;
  const max = options.maxDelayMs ?? DEFAULTS.reconnect.maxDelayMs;
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
