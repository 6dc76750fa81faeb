import { abortWatcher, unwatchAbort, watchAbort } from "./abort-watch.js";
import type { ConnectionState, Link, StateChange } from "./connection.js";
import { GmqError } from "./errors.js";

/** The current state, and one event per real change (none once closed). */
export class StateHolder {
  state: ConnectionState = "disconnected";

  constructor(private readonly onState: (change: StateChange) => void) {}

  set(to: ConnectionState, reason: string, attempt: number, error?: GmqError): void {
    const from = this.state;
    if (from === to || from === "closed") return;
    this.state = to;
    this.onState({ from, to, reason, attempt, ...(error && { error }) });
  }
}

interface Waiter {
  resolve(link: Link): void;
  reject(error: GmqError): void;
}

/** Callers of `waitReady`, each bounded by its own signal. */
export class WaiterList {
  private readonly waiters = new Set<Waiter>();

  wait(signal: AbortSignal): Promise<Link> {
    return new Promise((resolve, reject) => {
      const stop = abortWatcher(() => {
        this.waiters.delete(waiter);
        reject(GmqError.from(signal.reason, "aborted"));
      });
      const waiter: Waiter = {
        resolve: (link) => {
          unwatchAbort(signal, stop);
          resolve(link);
        },
        reject: (error) => {
          unwatchAbort(signal, stop);
          reject(error);
        },
      };
      if (signal.aborted) return stop.aborted(signal);
      watchAbort(signal, stop);
      this.waiters.add(waiter);
    });
  }

  resolveAll(link: Link): void {
    for (const waiter of this.waiters) waiter.resolve(link);
    this.waiters.clear();
  }

  rejectAll(error: GmqError): void {
    for (const waiter of this.waiters) waiter.reject(error);
    this.waiters.clear();
  }
}
