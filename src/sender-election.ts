import { GmqError } from "./errors.js";
import type { Outbox } from "./outbox.js";
import type { OutboxStore } from "./store.js";

/**
 * Browser tabs sharing one durable outbox elect one sender (the store's `shared` coordination,
 * e.g. Web Locks), so the same message is never flushed twice by two tabs. The others only put
 * and notify; every tab reloads the outbox when another one changed it.
 */
export class SenderElection {
  /** Whether this context flushes. Always true for a store nobody shares. */
  declare isSender: boolean;
  #notifyTimer: ReturnType<typeof setTimeout> | undefined;
  #stopListening: () => void = () => {};
  readonly #store: OutboxStore;
  readonly #outbox: Outbox;
  readonly #hooks: { becameSender(): void; changed(): void; onError(error: GmqError): void };

  constructor(
    store: OutboxStore,
    outbox: Outbox,
    hooks: { becameSender(): void; changed(): void; onError(error: GmqError): void },
  ) {
    this.#store = store;
    this.#outbox = outbox;
    this.#hooks = hooks;
    this.isSender = store.shared === undefined;
  }

  /** Listens to the other tabs and waits for the sender role, until `closed` aborts. */
  start(loaded: Promise<void>, closed: AbortSignal): void {
    const shared = this.#store.shared;
    if (!shared) return;
    this.#stopListening = shared.onChange(() => {
      void this.#outbox.load().then(
        () => this.#hooks.changed(),
        (error: unknown) => this.#hooks.onError(GmqError.from(error, "storage")),
      );
    });
    shared.acquireSender(closed).then(
      async (release) => {
        closed.addEventListener("abort", release, { once: true });
        await loaded;
        await this.#outbox.load();
        this.isSender = true;
        this.#hooks.becameSender();
      },
      () => {},
    );
  }

  /** The sender tells the others (debounced) that records left, so their counts stay true. */
  tellOthers(): void {
    const shared = this.#store.shared;
    if (!shared || !this.isSender || this.#notifyTimer !== undefined) return;
    this.#notifyTimer = setTimeout(() => {
      this.#notifyTimer = undefined;
      shared.notify();
    }, 100);
  }

  /** A record reached the store: tell the sender (when that is another tab). */
  persisted(): void {
    this.#store.shared?.notify();
  }

  stop(): void {
    this.#stopListening();
    clearTimeout(this.#notifyTimer);
  }
}
