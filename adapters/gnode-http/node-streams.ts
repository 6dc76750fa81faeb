import { GmqError, type StreamSink } from "gmq";
import { isNetwork } from "./reasons.js";

/**
 * One subscription over several nodes: `start` sets it up on a node (declares the queue…), `run`
 * fetches from that node until it fails (throws) or the signal aborts (returns). Resolves once it
 * runs on at least one node, rejects when it could start on none. It stays up while at least one
 * node serves it: a node that fails meanwhile is tried again every `retryMs` or so; when the last
 * one fails, the stream ends with that failure and the core restarts it.
 */
export async function openOnNodes<N>(
  nodes: readonly N[],
  signal: AbortSignal,
  sink: StreamSink,
  retryMs: number,
  start: (node: N) => Promise<unknown>,
  run: (node: N) => Promise<void>,
): Promise<void> {
  const failures: unknown[] = [];
  const up = await Promise.all(
    nodes.map((node) =>
      start(node).then(
        () => true,
        (error: unknown) => {
          failures.push(error);
          return false;
        },
      ),
    ),
  );
  let alive = nodes.length - failures.length;
  if (alive === 0) throw failures.find((error) => !isNetwork(error)) ?? failures[0];
  const loop = async (node: N, up: boolean): Promise<void> => {
    while (!signal.aborted) {
      if (!up) {
        // Between half of `retryMs` and all of it, at random (nodes that failed together spread).
        await sleep(((1 + Math.random()) * retryMs) / 2, signal);
        if (
          signal.aborted ||
          !(await start(node).then(
            () => ++alive,
            () => 0,
          ))
        )
          continue;
      }
      try {
        return await run(node);
      } catch (error) {
        up = false;
        if (!signal.aborted && (--alive === 0 || !isNetwork(error))) {
          return sink.end(GmqError.from(error, "disconnected"));
        }
      }
    }
  };
  up.forEach((started, i) => void loop(nodes[i]!, started));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}
