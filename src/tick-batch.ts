/**
 * Collects what is added during one tick and hands it over in one piece when the tick's
 * synchronous work is done: one store call and one promise for a burst of publishes, instead of
 * one each.
 */
export class TickBatch<T> {
  private items: T[] = [];

  constructor(private readonly flush: (items: T[]) => void) {}

  add(item: T): void {
    this.items.push(item);
    if (this.items.length === 1) queueMicrotask(() => this.release());
  }

  private release(): void {
    const items = this.items;
    this.items = [];
    this.flush(items);
  }
}
