import { type AbortWatcher, unwatchAbort, watchAbort } from "./abort-watch.js";
import { GmqError } from "./errors.js";

interface Waiter<T> extends AbortWatcher {
  resolve(value: T): void;
  reject(error: GmqError): void;
}

/**
 * Promises parked until something happens (a link is ready, a subscription has room), each
 * given up on its own when its signal aborts, with the signal's reason.
 */
export class Waiters<T> {
  readonly #waiting = new Set<Waiter<T>>();

  get size(): number {
    return this.#waiting.size;
  }

  wait(signal: AbortSignal): Promise<T> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter<T> = {
        resolve: (value) => {
          unwatchAbort(signal, waiter);
          resolve(value);
        },
        reject: (error) => {
          unwatchAbort(signal, waiter);
          reject(error);
        },
        aborted: () => {
          this.#waiting.delete(waiter);
          reject(GmqError.from(signal.reason, "aborted"));
        },
      };
      if (signal.aborted) return waiter.aborted(signal);
      watchAbort(signal, waiter);
      this.#waiting.add(waiter);
    });
  }

  /** Rejects every waiter with `outcome` if it is an error, else resolves them all with it. */
  settle(outcome: T | GmqError): void {
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const waiter of waiting) {
      if (GmqError.is(outcome)) waiter.reject(outcome);
      else waiter.resolve(outcome);
    }
  }
}
