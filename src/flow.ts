import { abortWatcher, unwatchAbort, watchAbort } from "./abort-watch.js";
import { GmqError } from "./errors.js";
import type { FlowControl } from "./transport.js";

/**
 * The flow control of one wire subscription: it can take as many more messages as the fullest of
 * its local subscriptions can.
 */
export class WireFlow implements FlowControl {
  readonly #waiters = new Set<() => void>();
  readonly #members: ReadonlySet<{ readonly credit: number }>;

  constructor(members: ReadonlySet<{ readonly credit: number }>) {
    this.#members = members;
  }

  get credit(): number {
    let credit = Number.POSITIVE_INFINITY;
    for (const member of this.#members) if (member.credit < credit) credit = member.credit;
    return credit === Number.POSITIVE_INFINITY ? 0 : Math.max(0, credit);
  }

  ready(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(GmqError.from(signal.reason, "aborted"));
    if (this.credit > 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const stop = abortWatcher(() => {
        this.#waiters.delete(wake);
        reject(GmqError.from(signal.reason, "aborted"));
      });
      const wake = (): void => {
        unwatchAbort(signal, stop);
        resolve();
      };
      watchAbort(signal, stop);
      this.#waiters.add(wake);
    });
  }

  /** A member settled a message or left: wake whoever waits if there is room now. */
  changed(): void {
    if (this.#waiters.size === 0 || this.credit === 0) return;
    const waiting = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiting) wake();
  }
}
