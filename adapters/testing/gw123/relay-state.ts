/**
 * What the test-only gmqtest.Relay keeps (relay-service.ts): the values `echo` was sent, and the
 * open `watch` streams by channel, which the test feeds. Free of protobuf imports, so that
 * `gmq/testing` can export it without loading the optional peers.
 */

import type { JsonValue } from "@bufbuild/protobuf";

/** One open `watch` stream: values fed to its channel wait here until the stream takes them. */
export class Watcher {
  private readonly queue: JsonValue[] = [];
  private wake: (() => void) | undefined;

  push(value: JsonValue): void {
    this.queue.push(value);
    this.wake?.();
  }

  async *values(signal: AbortSignal): AsyncGenerator<JsonValue> {
    while (!signal.aborted) {
      const value = this.queue.shift();
      if (value !== undefined) {
        yield value;
        continue;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
      this.wake = undefined;
    }
  }
}

/** What the Relay keeps: the values `echo` was sent, and the open `watch` streams by channel. */
export class RelayState {
  readonly echoed: JsonValue[] = [];
  /** `hang` calls the server is still serving: one the client cancelled is no longer counted. */
  hanging = 0;
  readonly #watchers = new Map<string, Set<Watcher>>();

  /** Streams open on `channel`. */
  watching(channel: string): number {
    return this.#watchers.get(channel)?.size ?? 0;
  }

  /** Hand each value, in order, to every stream open on `channel`. Returns how many streams. */
  feed(channel: string, values: readonly JsonValue[]): number {
    const watchers = this.#watchers.get(channel) ?? new Set();
    for (const watcher of watchers) for (const value of values) watcher.push(value);
    return watchers.size;
  }

  open(channel: string): { watcher: Watcher; close(): void } {
    const watcher = new Watcher();
    const set = this.#watchers.get(channel) ?? new Set<Watcher>();
    this.#watchers.set(channel, set);
    set.add(watcher);
    return {
      watcher,
      close: () => {
        set.delete(watcher);
        if (set.size === 0 && this.#watchers.get(channel) === set) this.#watchers.delete(channel);
      },
    };
  }
}
