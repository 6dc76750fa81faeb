/**
 * `gnode`: the gmq node's TCP protocol (Node.js). One command socket per node (`pub`, `mpub`,
 * `ack`, `queue`, `publish`), one socket per blocking consumer (`pop`, `dead`) and per subscribed channel.
 *
 * What a topic names (the part before a `/` says it; gnode names cannot hold `/` otherwise):
 * - `orders`: a queue topic. Publish with `routeKey`/`delayMs`; subscribe with `queue` = bind key.
 * - `dead/orders`: subscribe only; reads the dead-letter queue of `orders` and the subscription's
 *   `queue`. Destructive: a dead letter is gone from the node once read (there is no ack).
 * - `channel/<name>`: the node's pub/sub channel `<name>` (§4): fire-and-forget, nothing kept,
 *   only subscribers connected at that moment get it; a publish with no subscriber succeeds.
 */
import { GmqError, type OutboundMessage, type Transport } from "gmq";
import { liveNodes, nodeFailed, onSomeNode, pickWeighted } from "../gnode-http/cluster.js";
import { encodeBody } from "../gnode-http/envelope.js";
import { closeAll, fetchOf, type HttpIo } from "../gnode-http/http-node.js";
import { checkBodySize, nameProblem, wireName } from "../gnode-http/names.js";
import { openOnNodes } from "../gnode-http/node-streams.js";
import { noop } from "../gnode-http/reasons.js";
import {
  checkQueueMessage,
  type GnodeCommonOptions,
  integer,
  prepareQueueMessage,
  resolveCommon,
} from "../gnode-http/settings.js";
import { DEAD, readChannel, readQueue } from "./consumers.js";
import { type GnodeNode, type TcpNode, tcpNode } from "./tcp-node.js";

export interface GnodeOptions extends GnodeCommonOptions {
  /** One node, several (no replication: publishes spread by weight, consumers read from all), or
   *  a function that lists them, called on every (re)connect (e.g. `etcdNodes(…)`). */
  nodes: GnodeNode | readonly GnodeNode[] | (() => Promise<readonly GnodeNode[]>);
  /** A blocked `pop` that hears nothing for this long is dead (the node beats every 5 s).
   *  Default 12,500 ms. */
  heartbeatTimeoutMs?: number;
  /** How often a `dead/…` subscription looks again for a dead-letter queue that does not exist
   *  yet. Default 1000 ms. */
  deadPollMs?: number;
  /** For `/config` over HTTP. Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/** The largest body a TCP `pub` may carry (more would crash the node, spec §6). */
const MAX_TCP_BODY = 10_485_735;
const CHANNEL = "channel/";
const CHANNEL_NAME = /^channel\/[^\s\p{Cc}]{1,200}$/u;

/** What is wrong with a `channel/<name>` topic, or undefined. */
const channelProblem = (topic: string): string | undefined =>
  CHANNEL_NAME.test(topic)
    ? undefined
    : `a channel name has no spaces or control characters: "${topic.slice(CHANNEL.length)}"`;

/** The channel a `channel/<name>` topic names (checked by `naming` before it gets here). */
const channelName = (topic: string): string => topic.slice(CHANNEL.length);

/** An `mpub` item the node never read (an earlier one failed): sent again with the next flush. */
const notRead = (cause: unknown) =>
  new GmqError("disconnected", "gnode mpub: not read by the node after an earlier item failed", { cause });

export function gnode(options: GnodeOptions): Transport {
  const common = resolveCommon(options, MAX_TCP_BODY);
  const { slashAsDot, random, retryMs } = common;
  const heartbeatTimeoutMs = integer(options.heartbeatTimeoutMs, "heartbeatTimeoutMs", 1, 1e9, 12_500);
  const deadPollMs = integer(options.deadPollMs, "deadPollMs", 1, 1e9, 1000);
  /** The current link: up while one node's command socket is; aborts when it is lost or closed. */
  let link = new AbortController();
  const io: HttpIo = { fetch: fetchOf(options.fetch), waits: new Set() };
  const list = options.nodes;
  const build = (specs: readonly GnodeNode[]): TcpNode[] => {
    if (!Array.isArray(specs) || specs.length === 0) {
      throw GmqError.invalid("nodes", "must be a node, a list of nodes or a function listing them");
    }
    return specs.map((spec, i) => tcpNode(spec, `nodes.${i}`, io, common.topic));
  };
  let nodes =
    typeof list === "function"
      ? []
      : build(Array.isArray(list) || !list ? (list as GnodeNode[]) : [list as GnodeNode]);

  /**
   * One message on one node chosen by weight (another if the network fails it), after the topic
   * is set up there. A link transport may be called many times without awaiting: each `pub` is
   * written at once (or after the setup before it), so the order holds on the node.
   */
  async function publish(message: OutboundMessage): Promise<void> {
    if (message.topic.startsWith(CHANNEL)) {
      const name = channelName(message.topic);
      const body = encodeBody(message);
      checkBodySize(body, common.maxBodyBytes);
      return onSomeNode(nodes, random, retryMs, (node) =>
        node.request(`publish ${name}`, body).then(noop, (error: GmqError) => {
          // Fire-and-forget: nobody listening is not a failure (like MQTT).
          if (!error.message.endsWith("no subscribers")) throw error;
        }),
      );
    }
    const { topic, settings, routeKey, delay, body } = prepareQueueMessage(common, message, true);
    await onSomeNode(nodes, random, retryMs, (node) => {
      const send = () => node.request(`pub ${topic} ${routeKey} ${delay}`, body, true);
      return node.ready(topic, settings.queues)?.then(send) ?? send();
    });
  }

  /**
   * The outbox's batches as `mpub`s: each message is given a node by weight (as a lone publish
   * would be), and the messages of one topic on one node go in one `mpub` (≤ 1000), in order.
   * At the first item whose route key matches no queue the node stops: the items before it are
   * stored, that one is refused, and those after it were never read (sent again).
   */
  async function publishBatch(messages: readonly OutboundMessage[]): Promise<readonly unknown[]> {
    const results: unknown[] = new Array(messages.length);
    const runs = new Map<
      string,
      { node: TcpNode; topic: string; at: number[]; keys: string[]; items: string[] }
    >();
    const sends: Promise<void>[] = [];
    const live = liveNodes(nodes);
    messages.forEach((message, i) => {
      if (message.topic.startsWith(CHANNEL)) {
        const failed = (error: unknown) => {
          results[i] = error;
        };
        sends.push(publish(message).then(noop, failed));
        return;
      }
      try {
        const { topic, routeKey, delay, body } = prepareQueueMessage(common, message, true);
        const node = pickWeighted(live.length > 0 ? live : nodes, random);
        const key = `${nodes.indexOf(node)} ${topic}`;
        let run = runs.get(key);
        if (!run) {
          run = { node, topic, at: [], keys: [], items: [] };
          runs.set(key, run);
        }
        run.at.push(i);
        run.keys.push(routeKey);
        run.items.push(JSON.stringify({ body, delay, route_key: routeKey }));
      } catch (error) {
        results[i] = error;
      }
    });
    for (const run of runs.values()) {
      const settings = common.topic(run.topic);
      const send = async (node: TcpNode) => {
        await node.ready(run.topic, settings.queues);
        const reply = await node.request(`mpub ${run.topic} ${run.items.length}`, run.items, true);
        // A JSON array of bare numbers: read as text, never as JS numbers (ids exceed 2^53).
        const ids = reply.toString("latin1").match(/\d+/g) ?? [];
        if (ids.length !== run.items.length) {
          throw new GmqError("protocol", `gnode mpub: ${ids.length} ids for ${run.items.length} messages`, {
            reason: "BAD_REPLY",
          });
        }
      };
      const sent = onSomeNode(nodes, random, retryMs, send, live, run.node).catch((error: unknown) => {
        const key = GmqError.is(error) ? /routeKey:(.*) is not match/.exec(error.message)?.[1] : undefined;
        const failed = key === undefined ? -1 : run.keys.indexOf(key);
        run.at.forEach((index, k) => {
          if (failed < 0 || k === failed) results[index] = error;
          else if (k > failed) results[index] = notRead(error);
        });
      });
      sends.push(sent);
    }
    await Promise.all(sends);
    return results;
  }

  return {
    name: "gnode",
    capabilities: {
      connection: "link",
      inbound: "stream",
      wildcards: false,
      requestReply: false,
      ack: true,
      delay: true,
      binary: true,
      queues: true,
      headers: true,
      retain: false,
      routeKeys: true,
      maxBatch: 1000,
    },
    naming: {
      topic: (topic) =>
        topic.startsWith(CHANNEL) ? channelProblem(topic) : nameProblem(wireName(topic, slashAsDot)),
      pattern: (p) =>
        p.startsWith(CHANNEL)
          ? channelProblem(p)
          : nameProblem(wireName(p.startsWith(DEAD) ? p.slice(DEAD.length) : p, slashAsDot)),
    },
    checkPublish: (message) => {
      if (!message.topic.startsWith(CHANNEL)) checkQueueMessage(common, message, true);
    },

    // Every node's command socket, like a stream over the nodes: up while one is, a lost one
    // dialled again in the background, the link lost with the last.
    async connect(sink, { signal }) {
      if (typeof list === "function") nodes = build(await list());
      const current = new AbortController();
      link = current;
      signal.addEventListener("abort", () => current.abort(signal.reason));
      await openOnNodes(
        nodes,
        current.signal,
        {
          message: noop,
          end(error) {
            current.abort(error);
            sink.onDisconnect(error);
          },
        },
        retryMs,
        async (node) => {
          node.command = await node.open(current.signal);
          node.setup.reset();
          node.downUntil = 0;
        },
        async (node) => {
          const error = await node.command!.closed;
          node.command = undefined;
          nodeFailed(node, Infinity);
          throw error;
        },
      );
    },

    publish,
    publishBatch,

    subscribe: (request, options) =>
      request.pattern.startsWith(CHANNEL)
        ? readChannel(nodes, channelName(request.pattern), request.pattern, options, retryMs)
        : readQueue(nodes, request, options, common, heartbeatTimeoutMs, deadPollMs),

    async disconnect() {
      const closed = new GmqError("closed", "transport closed");
      link.abort(closed);
      closeAll(io, closed);
    },
  };
}
