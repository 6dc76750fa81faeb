/**
 * Collects what is added during one tick and hands it over in one piece when the tick's
 * synchronous work is done: one store call and one promise for a burst of publishes, instead of
 * one each.
 */
export class TickBatch<T> {
  #items: T[] = [];
  readonly #flush: (items: T[]) => void;

  constructor(flush: (items: T[]) => void) {
    this.#flush = flush;
  }

  add(item: T): void {
    this.#items.push(item);
    if (this.#items.length === 1) queueMicrotask(() => this.#release());
  }

  #release(): void {
    const items = this.#items;
    this.#items = [];
    this.#flush(items);
  }
}
