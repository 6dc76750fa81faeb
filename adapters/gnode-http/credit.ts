import { type FlowControl, GmqError } from "gmq";

/**
 * The flow control of one subscription shared by its per-node fetch loops: a loop may fetch only
 * while the subscription has more credit than fetches already under way, so several nodes
 * together never hand over more than `maxBuffered` unsettled messages.
 */
export class CreditGate {
  private outstanding = 0;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly flow: FlowControl) {}

  /** Resolves when one more message may be fetched; call `done` once that fetch is over. */
  async take(signal: AbortSignal): Promise<void> {
    for (;;) {
      await this.flow.ready(signal);
      if (this.flow.credit > this.outstanding) {
        this.outstanding++;
        return;
      }
      await new Promise<void>((resolve, reject) => {
        const stop = (): void => {
          this.waiters.delete(wake);
          reject(GmqError.from(signal.reason, "aborted"));
        };
        const wake = (): void => {
          signal.removeEventListener("abort", stop);
          resolve();
        };
        signal.addEventListener("abort", stop, { once: true });
        this.waiters.add(wake);
      });
    }
  }

  /** A fetch is over (its message, if any, already delivered). */
  done(): void {
    this.outstanding--;
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiting) wake();
  }
}
