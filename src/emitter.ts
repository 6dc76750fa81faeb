/**
 * Typed events for the client and its subscriptions: `on`, `once`, `off`, `emit`,
 * `listenerCount`, `removeAllListeners`, with eventemitter3's semantics (no special `error`
 * event; a listener added or removed while an event is being emitted takes effect from the next
 * one), in a fraction of its size.
 */
type Listener = ((...args: any[]) => void) & { listener?: Listener };

export class Emitter<Events extends { [E in keyof Events]: unknown[] }> {
  /** Each event's listeners; a list is replaced, never changed, so an emit in progress is safe. */
  #listeners: { [E in keyof Events]?: Listener[] } = {};

  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this {
    this.#listeners[event] = [...(this.#listeners[event] ?? []), listener];
    return this;
  }

  /** Like `on`, for the next emit only. */
  once<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this {
    const once: Listener = (...args) => {
      this.off(event, once);
      listener(...(args as Events[E]));
    };
    once.listener = listener;
    return this.on(event, once);
  }

  /** Removes the listener (added with `on` or `once`), or every listener of the event. */
  off<E extends keyof Events>(event: E, listener?: (...args: Events[E]) => void): this {
    const list = this.#listeners[event]?.filter((l) => listener && l !== listener && l.listener !== listener);
    if (list?.length) this.#listeners[event] = list;
    else delete this.#listeners[event];
    return this;
  }

  /** Whether anyone listened. */
  emit<E extends keyof Events>(event: E, ...args: Events[E]): boolean {
    const list = this.#listeners[event];
    if (!list) return false;
    for (const listener of list) listener(...args);
    return true;
  }

  listenerCount(event: keyof Events): number {
    return this.#listeners[event]?.length ?? 0;
  }

  removeAllListeners(event?: keyof Events): this {
    if (event === undefined) this.#listeners = {};
    else delete this.#listeners[event];
    return this;
  }
}
