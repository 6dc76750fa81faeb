import { backoffDelay, GmqError, type StreamSink } from "gmq";
import { isNetwork } from "./reasons.js";

export interface NodeStreamOptions {
  readonly signal: AbortSignal;
  readonly sink: StreamSink;
  /** A node that failed while others serve is tried again after up to this long (with backoff). */
  readonly retryMs: number;
}

/**
 * One subscription over several nodes: `start` sets it up on a node (declares the queue…), `run`
 * fetches from that node until it fails (throws) or the signal aborts (returns). Resolves once it
 * runs on at least one node, rejects when it could start on none. It stays up while at least one
 * node serves it: a node that fails meanwhile comes back by itself; when the last one fails, the
 * stream ends with that failure and the core restarts it with backoff.
 */
export async function openOnNodes<N>(
  nodes: readonly N[],
  options: NodeStreamOptions,
  start: (node: N) => Promise<void>,
  run: (node: N) => Promise<void>,
): Promise<void> {
  const { signal, sink, retryMs } = options;
  const started = await Promise.allSettled(nodes.map((node) => start(node)));
  const failures = started.flatMap((outcome) => (outcome.status === "rejected" ? [outcome.reason] : []));
  if (failures.length === nodes.length) throw failures.find((error) => !isNetwork(error)) ?? failures[0];
  let alive = nodes.length - failures.length;

  const loop = async (node: N, up: boolean): Promise<void> => {
    let attempt = 0;
    while (!signal.aborted) {
      if (!up) {
        await sleep(backoffDelay(attempt++, { initialDelayMs: retryMs, maxDelayMs: retryMs * 4 }), signal);
        if (signal.aborted) return;
        try {
          await start(node);
        } catch {
          continue;
        }
        up = true;
        attempt = 0;
        alive++;
      }
      try {
        await run(node);
        return;
      } catch (error) {
        if (signal.aborted) return;
        up = false;
        if (--alive === 0 || !isNetwork(error)) return sink.end(GmqError.from(error, "disconnected"));
      }
    }
  };
  started.forEach((outcome, i) => void loop(nodes[i]!, outcome.status === "fulfilled"));
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
