import type { FlowControl } from "gmq";

/**
 * The flow control of one subscription shared by its per-node fetch loops: a loop may fetch only
 * while the subscription has more credit than fetches already under way, so several nodes
 * together never hand over more than `maxBuffered` unsettled messages.
 */
export class CreditGate {
  #outstanding = 0;
  readonly #waiters = new Set<() => void>();

  constructor(private readonly flow: FlowControl) {}

  /** Resolves when one more message may be fetched (call `done` once that fetch is over);
   *  rejects when `signal` aborts. */
  async take(signal: AbortSignal): Promise<void> {
    for (;;) {
      await this.flow.ready(signal);
      if (this.flow.credit > this.#outstanding) {
        this.#outstanding++;
        return;
      }
      // Until another fetch is over, or the signal aborts (then `ready` rejects).
      await new Promise<void>((wake) => {
        const stop = (): void => {
          signal.removeEventListener("abort", stop);
          this.#waiters.delete(stop);
          wake();
        };
        signal.addEventListener("abort", stop);
        this.#waiters.add(stop);
      });
    }
  }

  /** A fetch is over (its message, if any, already delivered). */
  done(): void {
    this.#outstanding--;
    for (const wake of this.#waiters) wake();
  }
}
