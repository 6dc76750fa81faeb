import type { ConnectionState, StateChange } from "./connection.js";

/** `client.status()`: the current state, then every change, until the client closes. */
export class StatusStream implements AsyncIterableIterator<StateChange> {
  readonly #queue: StateChange[];
  #waiting: ((result: IteratorResult<StateChange>) => void) | undefined;
  #ended = false;
  readonly #onEnd: () => void;

  constructor(current: ConnectionState, onEnd: () => void) {
    this.#onEnd = onEnd;
    this.#queue = [{ from: current, to: current, reason: "current state", attempt: 0 }];
  }

  push(change: StateChange): void {
    if (this.#ended) return;
    if (this.#waiting) {
      const resolve = this.#waiting;
      this.#waiting = undefined;
      resolve({ done: false, value: change });
    } else {
      this.#queue.push(change);
    }
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd();
    if (this.#queue.length === 0) {
      this.#waiting?.({ done: true, value: undefined });
      this.#waiting = undefined;
    }
  }

  next(): Promise<IteratorResult<StateChange>> {
    const change = this.#queue.shift();
    if (change) return Promise.resolve({ done: false, value: change });
    if (this.#ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<StateChange>> {
    this.#queue.length = 0;
    this.end();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<StateChange> {
    return this;
  }
}
