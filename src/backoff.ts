export interface BackoffOptions {
  /** First retry waits up to this long. Default 250 ms. */
  initialDelayMs?: number;
  /** Cap on any single wait. Default 30 s. */
  maxDelayMs?: number;
}

/** Exponential backoff with full jitter: a uniform wait in [0, min(max, initial·2^attempt)]. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random = Math.random): number {
  const initial = options.initialDelayMs ?? 250;
  const max = options.maxDelayMs ?? 30_000;
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
