/**
 * Several gmq nodes (spec §5): gnode has no replication, so each publish goes to one node chosen
 * by weight (moving on when a node fails), consumers pop on every node, and each ack goes back to
 * the node its message came from. Each node also remembers which topics it has set up (§6).
 */
import { GmqError } from "gmq";
import { isNetwork } from "./reasons.js";

/** How a topic is set up on every node: `/config` with all four settings, then its queues. */
export interface TopicSettings {
  readonly routing: "exact" | "regex";
  /** Seconds, 1–60; the node only ever lowers it (0: leave it). */
  readonly msgTTR: number;
  /** Deliveries before the dead-letter queue, ≥ 1; lowered only (0: leave it). */
  readonly msgRetry: number;
}

export interface SetupIo {
  configure(topic: string): Promise<void>;
  declare(topic: string, bindKey: string): Promise<void>;
}

/**
 * `ensureTopic` for one node: configure a topic and declare its queues once, again after the node
 * may have lost them (a network failure, a reconnect, a reply saying a queue is gone).
 */
export class TopicSetup {
  private readonly done = new Set<string>();
  private readonly pending = new Map<string, Promise<void>>();

  constructor(private readonly io: SetupIo) {}

  /** Undefined when everything is in place already (no promise on the hot path). */
  ensure(topic: string, bindKeys: Iterable<string>): Promise<void> | undefined {
    let waits: Promise<void>[] | undefined;
    const need = (key: string, run: () => Promise<void>): void => {
      if (this.done.has(key)) return;
      let work = this.pending.get(key);
      if (!work) {
        const started = run().then(
          () => {
            if (this.pending.get(key) !== started) return;
            this.pending.delete(key);
            this.done.add(key);
          },
          (error: unknown) => {
            if (this.pending.get(key) === started) this.pending.delete(key);
            throw error;
          },
        );
        work = started;
        this.pending.set(key, work);
      }
      waits ??= [];
      waits.push(work);
    };
    need(topic, () => this.io.configure(topic));
    for (const bindKey of bindKeys) need(`${topic} ${bindKey}`, () => this.io.declare(topic, bindKey));
    return waits && Promise.all(waits).then(() => undefined);
  }

  /** The node may have forgotten everything: set up again on next use. */
  reset(): void {
    this.done.clear();
    this.pending.clear();
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
  const r = 1 + Math.floor(random() * total);
  let sum = 0;
  for (const node of nodes) {
    sum += node.weight;
    if (sum >= r) return node;
  }
  return nodes[nodes.length - 1]!;
}

/** A node the network failed: publishes skip it for `retryMs`, and it is set up afresh. */
export function nodeFailed(node: ClusterNode, retryMs: number): void {
  node.downUntil = Date.now() + retryMs;
  node.setup.reset();
}

/** The nodes publishes may go to now: those not down (all of them if every one is). */
export function upNodes<N extends ClusterNode>(nodes: readonly N[]): readonly N[] {
  if (nodes.length === 1) return nodes;
  const now = Date.now();
  const up = nodes.filter((node) => node.downUntil <= now);
  return up.length > 0 ? up : nodes;
}

/**
 * Runs `work` on `first`, or on one node chosen by weight among those not down; a network
 * failure marks that node down and moves on to another. Rejects with the last failure once none
 * is left.
 */
export async function onSomeNode<N extends ClusterNode, R>(
  nodes: readonly N[],
  random: () => number,
  retryMs: number,
  work: (node: N) => Promise<R>,
  first?: N,
): Promise<R> {
  let left = upNodes(nodes);
  let last: unknown;
  while (left.length > 0) {
    const node = first ?? (left.length === 1 ? left[0]! : pickWeighted(left, random));
    first = undefined;
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
