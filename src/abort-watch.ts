import { GmqError } from "./errors.js";

/**
 * Abort listeners shared per signal. One signal often governs many operations (the connection's
 * for every publish in flight, a page's for all its calls), and a listener each would trip
 * Node's leak warning past ten and cost an EventTarget registration per operation. Here each
 * signal gets one listener, whatever the number of watchers.
 */
export interface AbortWatcher {
  /** The signal aborted. Called once; the watcher is already removed. */
  aborted(signal: AbortSignal): void;
}

/** The error an operation fails with when the caller's signal aborts: always `aborted` naming the
 *  operation (e.g. `publish aborted`), whatever was passed to `abort()`, which is kept as `cause`. */
export function abortError(signal: AbortSignal, what: string): GmqError {
  return new GmqError("aborted", `${what} aborted`, { cause: signal.reason });
}

const watchers = new WeakMap<AbortSignal, Set<AbortWatcher>>();

function dispatch(this: AbortSignal): void {
  const watching = watchers.get(this);
  watchers.delete(this);
  if (watching) for (const watcher of watching) watcher.aborted(this);
}

/** Calls `watcher.aborted` when `signal` aborts (not if it already has: check that first). */
export function watchAbort(signal: AbortSignal, watcher: AbortWatcher): void {
  let watching = watchers.get(signal);
  if (!watching) {
    watching = new Set();
    watchers.set(signal, watching);
    signal.addEventListener("abort", dispatch, { once: true });
  }
  watching.add(watcher);
}

export function unwatchAbort(signal: AbortSignal, watcher: AbortWatcher): void {
  const watching = watchers.get(signal);
  if (!watching?.delete(watcher) || watching.size > 0) return;
  watchers.delete(signal);
  signal.removeEventListener("abort", dispatch);
}

/** A watcher from a function, for the places that are not per message. */
export function abortWatcher(aborted: (signal: AbortSignal) => void): AbortWatcher {
  return { aborted };
}
