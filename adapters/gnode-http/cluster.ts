/**
 * Several gmq nodes (spec §5): gnode has no replication, so each publish goes to one node chosen
 * by weight (moving on when a node fails), consumers pop on every node, and each ack goes back to
 * the node its message came from. Each node also remembers which topics it has set up (§6).
 */
import { GmqError } from "gmq";
import { isNetwork } from "./reasons.js";

/**
 * `ensureTopic` for one node: configure a topic and declare its queues once, again after the node
 * may have lost them (a network failure, a reconnect, a reply saying a queue is gone).
 */
export class TopicSetup {
  /** `topic` (configured) or `topic bindKey` (declared): done, or under way. */
  readonly #steps = new Map<string, true | Promise<unknown>>();
  /** Topic → how many queues it had when everything was last in place: the hot path. */
  readonly #ready = new Map<string, number>();

  /** `run(topic)` configures a topic, `run(topic, bindKey)` declares a queue. */
  constructor(private readonly run: (topic: string, bindKey?: string) => Promise<unknown>) {}

  /** Undefined when everything is in place already (no promise on the hot path). */
  ensure(topic: string, queues: Set<string>): Promise<unknown> | undefined {
    if (this.#ready.get(topic) === queues.size) return;
    const steps = this.#steps;
    const waits = [undefined, ...queues].flatMap((bindKey) => {
      const key = `${topic} ${bindKey ?? ""}`;
      let work = steps.get(key);
      if (work === true) return [];
      if (!work) {
        const started: Promise<unknown> = this.run(topic, bindKey).then(
          () => steps.get(key) === started && steps.set(key, true),
          (error: unknown) => {
            if (steps.get(key) === started) steps.delete(key);
            throw error;
          },
        );
        work = started;
        steps.set(key, work);
      }
      return [work];
    });
    if (waits.length > 0) return Promise.all(waits);
    this.#ready.set(topic, queues.size);
  }

  /** The node may have forgotten everything: set up again on next use. */
  reset(): void {
    this.#steps.clear();
    this.#ready.clear();
  }
}

export interface ClusterNode {
  readonly weight: number;
  readonly setup: TopicSetup;
  /** Skipped by publishes until then (epoch ms), after a failure. */
  downUntil: number;
}

/** §5: draw r in [1, Σw] and take the first node whose running total reaches it; uniform if Σw = 0. */
export function pickWeighted<T extends { readonly weight: number }>(
  nodes: readonly T[],
  random: () => number,
): T {
  let total = 0;
  for (const node of nodes) total += node.weight;
  if (total <= 0) return nodes[Math.floor(random() * nodes.length)] ?? nodes[0]!;
  let r = Math.floor(random() * total);
  for (const node of nodes) {
    r -= node.weight;
    if (r < 0) return node;
  }
  return nodes[nodes.length - 1]!;
}

/** A node the network failed: publishes skip it for `retryMs`, and it is set up afresh. */
export function nodeFailed(node: ClusterNode, retryMs: number): void {
  node.downUntil = Date.now() + retryMs;
  node.setup.reset();
}

/**
 * Runs `work` on one node chosen by weight among those not down (all of them if every one is); a
 * network failure marks that node down and moves on to another. Rejects with the last failure
 * once none is left.
 */
export async function onSomeNode<N extends ClusterNode, R>(
  nodes: readonly N[],
  random: () => number,
  retryMs: number,
  work: (node: N) => Promise<R>,
): Promise<R> {
  const now = Date.now();
  let left = nodes.length > 1 ? nodes.filter((node) => node.downUntil <= now) : nodes;
  if (left.length === 0) left = nodes;
  let last: unknown;
  while (left.length > 0) {
    const node = left.length > 1 ? pickWeighted(left, random) : left[0]!;
    try {
      const result = await work(node);
      node.downUntil = 0;
      return result;
    } catch (error) {
      if (!isNetwork(error)) throw error;
      nodeFailed(node, retryMs);
      last = error;
      left = left.filter((other) => other !== node);
    }
  }
  throw last ?? new GmqError("disconnected", "no gmq node to send to");
}
