/** Remembers the last `size` message ids so a redelivered message reaches the app once. */
export class DedupWindow {
  private readonly ids = new Set<string>();
  constructor(private readonly size: number) {}

  /** True when `id` was seen already; otherwise records it. */
  seen(id: string): boolean {
    if (this.ids.has(id)) return true;
    this.ids.add(id);
    if (this.ids.size > this.size) {
      // Sets iterate in insertion order, so the first entry is the oldest.
      const oldest = this.ids.values().next().value as string;
      this.ids.delete(oldest);
    }
    return false;
  }

  /** Forget an id so a redelivery is processed again (the first delivery was nacked). */
  forget(id: string): void {
    this.ids.delete(id);
  }
}
