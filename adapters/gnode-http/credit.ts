import type { FlowControl } from "gmq";

export type CreditGate = ReturnType<typeof creditGate>;

/**
 * The flow control of one subscription shared by its per-node fetch loops: a loop may fetch only
 * while the subscription has more credit than fetches already under way, so several nodes
 * together never hand over more than `maxBuffered` unsettled messages.
 */
export function creditGate(flow: FlowControl) {
  let outstanding = 0;
  const waiters = new Set<() => void>();
  return {
    /** Resolves when one more message may be fetched (call `done` once that fetch is over);
     *  rejects when `signal` aborts. */
    async take(signal: AbortSignal): Promise<void> {
      for (;;) {
        await flow.ready(signal);
        if (flow.credit > outstanding) {
          outstanding++;
          return;
        }
        // Until another fetch is over, or the signal aborts (then `ready` rejects).
        await new Promise<void>((wake) => {
          const stop = (): void => {
            signal.removeEventListener("abort", stop);
            waiters.delete(stop);
            wake();
          };
          signal.addEventListener("abort", stop);
          waiters.add(stop);
        });
      }
    },
    /** A fetch is over (its message, if any, already delivered). */
    done(): void {
      outstanding--;
      for (const wake of waiters) wake();
    },
  };
}
