/**
 * The requests a connection has in flight (PUBLISH awaiting PUBACK, SUBSCRIBE awaiting SUBACK…),
 * each settled exactly once: by its ack, by its caller's abort signal, or by the connection dying.
 */
import { GmqError } from "gmq";

export interface Operation {
  readonly reject: (error: GmqError) => void;
  readonly signal: AbortSignal;
}

interface SignalWatch {
  readonly ops: Set<Operation>;
  readonly listener: () => void;
}

export class PendingOperations {
  readonly #pending = new Set<Operation>();
  readonly #watches = new Map<AbortSignal, SignalWatch>();
  /** The last signal whose operations all settled keeps its listener: one request at a time on
   *  the connection's signal (a call, then the next) would otherwise add and remove a listener
   *  each time, which costs more than the request's own bookkeeping. */
  #idle: AbortSignal | undefined;

  /** Operations waiting for their acknowledgement. */
  get size(): number {
    return this.#pending.size;
  }

  /** One abort listener per signal, however many operations share it (the core passes the
   *  connection's signal to every publish; a listener each would trip Node's leak warning). */
  track(signal: AbortSignal, reject: (error: GmqError) => void): Operation {
    const op = { reject, signal };
    this.#pending.add(op);
    let watch = this.#watches.get(signal);
    if (!watch) {
      const ops = new Set<Operation>();
      const listener = () => {
        this.#watches.delete(signal);
        if (this.#idle === signal) this.#idle = undefined;
        const error = GmqError.from(signal.reason ?? new GmqError("aborted", "operation aborted"));
        for (const each of ops) {
          this.#pending.delete(each);
          each.reject(error);
        }
      };
      watch = { ops, listener };
      this.#watches.set(signal, watch);
      signal.addEventListener("abort", listener, { once: true });
    }
    watch.ops.add(op);
    return op;
  }

  /** Takes the operation out to settle it; false when it was settled already. */
  untrack(op: Operation): boolean {
    if (!this.#pending.delete(op)) return false;
    const watch = this.#watches.get(op.signal);
    if (watch) {
      watch.ops.delete(op);
      if (watch.ops.size === 0 && this.#idle !== op.signal) {
        if (this.#idle) this.#unwatch(this.#idle);
        this.#idle = op.signal;
      }
    }
    return true;
  }

  rejectAll(error: GmqError): void {
    for (const op of this.#pending) op.reject(error);
    this.#pending.clear();
    for (const [signal, watch] of this.#watches) signal.removeEventListener("abort", watch.listener);
    this.#watches.clear();
    this.#idle = undefined;
  }

  /** Removes a signal's listener, if its operations all settled. */
  #unwatch(signal: AbortSignal): void {
    const watch = this.#watches.get(signal);
    if (this.#idle === signal) this.#idle = undefined;
    if (!watch || watch.ops.size > 0) return;
    this.#watches.delete(signal);
    signal.removeEventListener("abort", watch.listener);
  }
}
