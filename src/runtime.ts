export interface RuntimeSignals {
  /** The network is back (`online`) or the page became visible: retry now. */
  wake(): void;
  /** The runtime says the network is gone: a socket may linger for minutes before it notices. */
  offline(): void;
}

/**
 * Listens to the browser's `online`/`offline` and page-visibility events. A no-op where they do
 * not exist (Node). Returns a function that stops listening.
 */
export function watchRuntime(signals: RuntimeSignals): () => void {
  const target = globalThis as unknown as Partial<EventTarget>;
  const doc = (globalThis as { document?: Document }).document;
  const { wake, offline } = signals;
  const onVisible = (): void => {
    if (doc?.visibilityState === "visible") wake();
  };
  target.addEventListener?.("online", wake);
  target.addEventListener?.("offline", offline);
  doc?.addEventListener("visibilitychange", onVisible);
  return () => {
    target.removeEventListener?.("online", wake);
    target.removeEventListener?.("offline", offline);
    doc?.removeEventListener("visibilitychange", onVisible);
  };
}
