/**
 * Calls `wake` when the runtime says the network is back (`online`) or the page became visible,
 * so the client retries at once instead of waiting out its backoff. A no-op where neither exists
 * (Node). Returns a function that stops watching.
 */
export function watchRuntime(wake: () => void): () => void {
  const target = globalThis as unknown as Partial<EventTarget>;
  const doc = (globalThis as { document?: Document }).document;
  const onVisible = (): void => {
    if (doc?.visibilityState === "visible") wake();
  };
  target.addEventListener?.("online", wake);
  doc?.addEventListener("visibilitychange", onVisible);
  return () => {
    target.removeEventListener?.("online", wake);
    doc?.removeEventListener("visibilitychange", onVisible);
  };
}
