/**
 * The durable delay store (upstream: one bbolt bucket per topic, keyed by due second then id).
 * It belongs to the node, not to a loaded topic: it survives `/exitTopic` and restarts of either
 * kind, and the scanner only drains topics that are loaded.
 */

import type { QueuedMsg } from "./queue.js";

export interface DelayedMsg {
  /** Unix second at which it becomes due: push second + delay. */
  readonly dueS: number;
  readonly msg: QueuedMsg;
  /** Target bind keys, fixed at push time. */
  readonly bindKeys: readonly string[];
}

export class DelayStore {
  readonly #byTopic = new Map<string, DelayedMsg[]>();

  add(topic: string, entry: DelayedMsg): void {
    let list = this.#byTopic.get(topic);
    if (!list) {
      list = [];
      this.#byTopic.set(topic, list);
    }
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = list[mid]!;
      if (m.dueS < entry.dueS || (m.dueS === entry.dueS && m.msg.id < entry.msg.id)) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, entry);
  }

  /** Remove and return the entries due at `nowS`, in key order. */
  takeDue(topic: string, nowS: number): DelayedMsg[] {
    const list = this.#byTopic.get(topic);
    if (!list) return [];
    let n = 0;
    while (n < list.length && list[n]!.dueS <= nowS) n++;
    return list.splice(0, n);
  }

  count(topic: string): number {
    return this.#byTopic.get(topic)?.length ?? 0;
  }

  entries(topic: string): readonly DelayedMsg[] {
    return this.#byTopic.get(topic) ?? [];
  }
}
