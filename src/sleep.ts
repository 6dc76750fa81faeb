import { abortWatcher, unwatchAbort, watchAbort } from "./abort-watch.js";

/** Waits `ms`, or less if `signal` aborts (a backoff that a wake-up or a close cuts short). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const wake = abortWatcher(() => {
      clearTimeout(timer);
      resolve();
    });
    const timer = setTimeout(() => {
      unwatchAbort(signal, wake);
      resolve();
    }, ms);
    watchAbort(signal, wake);
  });
}
