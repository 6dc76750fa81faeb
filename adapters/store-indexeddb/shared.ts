/**
 * Sharing one IndexedDB outbox between tabs: a Web Lock elects the one sender (the browser frees
 * it when that tab closes or crashes, and the next waiting tab gets it), and a BroadcastChannel
 * tells the other tabs that records were put or deleted.
 */
import { GmqError, type SharedOutbox } from "gmq";
import { toStorageError } from "./errors.js";

export interface SharedHandle extends SharedOutbox {
  /** Gives up the sender role, cancels pending requests and closes the channel. */
  close(): void;
}

/** What a context needs for sharing, or undefined when it lacks Web Locks or BroadcastChannel. */
export function sharingSupport(): { locks: LockManager } | undefined {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (!locks || typeof locks.request !== "function" || typeof globalThis.BroadcastChannel !== "function") {
    return undefined;
  }
  return { locks };
}

/**
 * `standalone()` is true when the store fell back to memory: the records then live in this tab
 * only, so it must send them itself (becomes sender at once) and has nothing to announce.
 */
export function createShared(name: string, locks: LockManager, standalone: () => boolean): SharedHandle {
  const holders = new Set<() => void>();
  const pending = new Set<AbortController>();
  const listeners = new Set<() => void>();
  let channel: BroadcastChannel | undefined;
  let closed = false;
  const closedError = () => new GmqError("closed", `IndexedDB outbox ${name} is closed`);

  const openChannel = (): BroadcastChannel => {
    if (!channel) {
      channel = new BroadcastChannel(name);
      channel.onmessage = () => {
        for (const listener of [...listeners]) listener();
      };
      // Node has BroadcastChannel too; there it must not keep the process alive on its own.
      (channel as { unref?: () => void }).unref?.();
    }
    return channel;
  };

  return {
    acquireSender(signal) {
      if (closed) return Promise.reject(closedError());
      if (signal.aborted) return Promise.reject(signal.reason);
      if (standalone()) return Promise.resolve(() => {});
      return new Promise((resolve, reject) => {
        // Our own controller, so close() can cancel the request as well as the caller's signal.
        const request = new AbortController();
        pending.add(request);
        const onAbort = () => request.abort(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
        let granted = false;
        locks
          .request(name, { signal: request.signal }, () => {
            granted = true;
            pending.delete(request);
            signal.removeEventListener("abort", onAbort);
            if (closed) {
              reject(closedError());
              return undefined; // frees the lock at once
            }
            // Held until released: by the caller, by close(), or by the browser when the tab goes.
            return new Promise<void>((release) => {
              const giveUp = () => {
                if (holders.delete(giveUp)) release();
              };
              holders.add(giveUp);
              resolve(giveUp);
            });
          })
          .catch((error: unknown) => {
            pending.delete(request);
            signal.removeEventListener("abort", onAbort);
            if (granted) return;
            reject(request.signal.aborted ? request.signal.reason : toStorageError(error, "sender election"));
          });
      });
    },

    notify() {
      if (closed || standalone()) return;
      openChannel().postMessage("change");
    },

    onChange(listener) {
      if (closed) return () => {};
      listeners.add(listener);
      openChannel();
      return () => {
        listeners.delete(listener);
      };
    },

    close() {
      if (closed) return;
      closed = true;
      for (const request of [...pending]) request.abort(closedError());
      for (const giveUp of [...holders]) giveUp();
      listeners.clear();
      channel?.close();
      channel = undefined;
    },
  };
}
