/**
 * Several gmq nodes (spec §5): gnode has no replication, so each publish goes to one node chosen
 * by weight (moving on when a node fails), consumers pop on every node, and each ack goes back to
 * the node its message came from. Each node also remembers which topics it has set up (§6).
 */
import { isNetwork, noop } from "./reasons.js";

export type TopicSetup = ReturnType<typeof topicSetup>;

/**
 * `ensureTopic` for one node: configure a topic and declare its queues once, again after the node
 * may have lost them (a network failure, a reconnect, a reply saying a queue is gone).
 * `run(topic)` configures a topic, `run(topic, bindKey)` declares a queue.
 */
export function topicSetup(run: (topic: string, bindKey?: string) => Promise<unknown>) {
  /** `topic ` (configured) or `topic bindKey` (declared): done or under way (dropped if failed). */
  const steps = new Map<string, Promise<unknown>>();
  /** Topic → how many queues it had when everything was last in place: the hot path. */
  const ready = new Map<string, number>();
  return {
    /** Undefined when everything is in place already (no promise on the hot path). A step that
     *  ends after a reset may still count as done: the node's refusal then sets it up again. */
    ensure(topic: string, queues: Set<string>): Promise<unknown> | undefined {
      const size = queues.size;
      if (ready.get(topic) === size) return;
      const all = Promise.all(
        [undefined, ...queues].map((bindKey) => {
          const key = `${topic} ${bindKey ?? ""}`;
          let work = steps.get(key);
          if (!work) {
            work = run(topic, bindKey);
            work.catch(() => steps.delete(key));
            steps.set(key, work);
          }
          return work;
        }),
      );
      all.then(() => ready.set(topic, size), noop);
      return all;
    },
    /** The node may have forgotten everything: set up again on next use. */
    reset(): void {
      steps.clear();
      ready.clear();
    },
  };
}

export interface ClusterNode {
  readonly weight: number;
  readonly setup: TopicSetup;
  /** Skipped by publishes until then (epoch ms), after a failure. */
  downUntil: number;
}

/** §5: draw r in [0, Σw) and take the first node whose running total passes it; uniform if
 *  Σw = 0. */
export function pickWeighted<N extends ClusterNode>(nodes: readonly N[], random: () => number): N {
  let total = 0;
  for (const node of nodes) total += node.weight;
  let r = random() * (total || nodes.length);
  for (const node of nodes) {
    r -= total ? node.weight : 1;
    if (r < 0) return node;
  }
  return nodes[nodes.length - 1]!;
}

/** A node the network failed: publishes skip it for `retryMs`, and it is set up afresh. */
/** The nodes publishes may use now (not down after a recent failure). */
export const liveNodes = <N extends ClusterNode>(nodes: readonly N[]): N[] =>
  nodes.filter((node) => node.downUntil <= Date.now());

export function nodeFailed(node: ClusterNode, retryMs: number): void {
  node.downUntil = Date.now() + retryMs;
  node.setup.reset();
}

/**
 * Runs `work` on one node chosen by weight among those not down (all of them if every one is); a
 * network failure marks that node down and moves on to another. Rejects with the last failure
 * once none is left.
 */
export function onSomeNode<N extends ClusterNode, R>(
  nodes: readonly N[],
  random: () => number,
  retryMs: number,
  work: (node: N) => Promise<R>,
  left: readonly N[] = liveNodes(nodes),
  node: N = pickWeighted(left.length > 0 ? left : nodes, random),
): Promise<R> {
  return work(node).then(
    (result) => {
      node.downUntil = 0;
      return result;
    },
    (error: unknown) => {
      if (!isNetwork(error)) throw error;
      nodeFailed(node, retryMs);
      const rest = (left.length > 0 ? left : nodes).filter((other) => other !== node);
      if (rest.length === 0) throw error;
      return onSomeNode(nodes, random, retryMs, work, rest);
    },
  );
}
