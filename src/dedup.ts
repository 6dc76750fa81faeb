/**
 * Remembers the last `size` message ids so a redelivered message reaches the app once.
 *
 * The ids live in a ring, oldest first, with a map from id to its position for lookups. (A Set
 * evicting its first entry looks simpler, but V8 leaves deleted entries as holes that every
 * `values().next()` walks over until the next rehash: about 4 µs per message at 10,000 ids.)
 */
export class DedupWindow {
  /** id → the sequence number it was recorded under. */
  readonly #ids = new Map<string, number>();
  readonly #ring: (string | undefined)[];
  #sequence = 0;
  readonly #size: number;

  constructor(size: number) {
    this.#size = size;
    this.#ring = new Array(size);
  }

  /** True when `id` was seen already; otherwise records it. */
  seen(id: string): boolean {
    if (this.#ids.has(id)) return true;
    if (this.#size === 0) return false;
    const slot = this.#sequence % this.#size;
    const oldest = this.#ring[slot];
    // A forgotten and re-recorded id has a newer sequence: only its own slot may evict it.
    if (oldest !== undefined && this.#ids.get(oldest) === this.#sequence - this.#size)
      this.#ids.delete(oldest);
    this.#ring[slot] = id;
    this.#ids.set(id, this.#sequence++);
    return false;
  }

  /** Forget an id so a redelivery is processed again (the first delivery was nacked). */
  forget(id: string): void {
    this.#ids.delete(id);
  }
}
