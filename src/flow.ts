import type { FlowControl } from "./transport.js";
import { Waiters } from "./waiters.js";

/**
 * The flow control of one wire subscription: it can take as many more messages as the fullest of
 * its local subscriptions can.
 */
export class WireFlow implements FlowControl {
  readonly #waiters = new Waiters<void>();
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
    // An aborted signal rejects (with its reason) even when there is room.
    if (this.credit > 0 && !signal.aborted) return Promise.resolve();
    return this.#waiters.wait(signal);
  }

  /** A member settled a message or left: wake whoever waits if there is room now. */
  changed(): void {
    if (this.#waiters.size === 0 || this.credit === 0) return;
    this.#waiters.settle();
  }
}
