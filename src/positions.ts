import { GmqError } from "./errors.js";
import type { OutboxStore } from "./store.js";

/**
 * Where each subscription stream was, kept in the outbox's store (when it keeps state) so a
 * reloaded tab or a restarted process resumes where it was. Writes of one tick are coalesced:
 * a burst of handled messages costs one write per subscription.
 */
export class Positions {
  readonly #pending = new Map<string, string | undefined>();
  readonly #writing = new Set<Promise<void>>();
  #scheduled = false;
  readonly #store: OutboxStore;
  readonly #onError: (error: GmqError) => void;

  constructor(store: OutboxStore, onError: (error: GmqError) => void) {
    this.#store = store;
    this.#onError = onError;
  }

  async read(key: string): Promise<string | undefined> {
    if (!this.#store.readState) return undefined;
    try {
      return await this.#store.readState(`position:${key}`);
    } catch (error) {
      this.#onError(GmqError.from(error, "storage"));
      return undefined;
    }
  }

  write(key: string, position: string | undefined): void {
    if (!this.#store.writeState) return;
    this.#pending.set(key, position);
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#flush());
  }

  /** Writes what is pending and waits for every write (before the store closes). */
  async drain(): Promise<void> {
    this.#flush();
    await Promise.all(this.#writing);
  }

  #flush(): void {
    this.#scheduled = false;
    const writes = [...this.#pending];
    this.#pending.clear();
    for (const [key, position] of writes) {
      const write = this.#store.writeState!(`position:${key}`, position).catch((error: unknown) => {
        this.#onError(GmqError.from(error, "storage"));
      });
      this.#writing.add(write);
      void write.finally(() => this.#writing.delete(write));
    }
  }
}
