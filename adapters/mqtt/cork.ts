/**
 * Node only: a stream's writes held (corked) until `later` runs, so that what one tick or one turn
 * of the event loop writes leaves in one syscall. A browser's WebSocket has no such syscall to
 * save (nor `setImmediate`), so the browser build leaves this out.
 */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/** The function that corks `stream` until `later` calls back (once however often it is called). */
export function corker(stream: Corkable, later: (release: () => void) => void): () => void {
  let held = false;
  const release = () => {
    held = false;
    stream.uncork();
  };
  return () => {
    if (held) return;
    held = true;
    stream.cork();
    later(release);
  };
}
