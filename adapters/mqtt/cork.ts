/**
 * Node only: a stream's writes held (corked) until `later` runs, so that what one tick or one turn
 * of the event loop writes leaves in one syscall, and small packets sent at once (no Nagle). A
 * browser's WebSocket has no such syscall to save (nor `setImmediate`), so the browser build
 * leaves this out.
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

/** Corks that a connection holds on its stream: until this turn of the event loop ends, or until
 *  the next tick. */
export interface Corks {
  readonly holdWrites: () => void;
  readonly corkTick: () => void;
}

/**
 * A connection's stream tuned for small request/reply packets, which would otherwise wait out
 * Nagle + delayed ACK (~40 ms each way), and its corks (none on a stream that cannot cork).
 */
export function tuneStream(stream: unknown): Corks | undefined {
  const node = stream as Partial<Corkable> & { setNoDelay?: (on: boolean) => void };
  node.setNoDelay?.(true);
  if (!node.cork) return undefined;
  return {
    holdWrites: corker(node as Corkable, setImmediate),
    corkTick: corker(node as Corkable, process.nextTick),
  };
}
