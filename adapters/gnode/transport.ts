/**
 * `gnode`: the gmq node's TCP protocol (Node.js). One command socket per node (`pub`, `mpub`,
 * `ack`, `queue`), one socket per blocking consumer (`pop`, `dead`) and per subscribed channel.
 *
 * What a topic names (the part before a `/` says it; gnode names cannot hold `/` otherwise):
 * - `orders`: a queue topic. Publish with `routeKey`/`delayMs`; subscribe with `queue` = bind key.
 * - `dead/orders`: subscribe only; reads the dead-letter queue of `orders` and the subscription's
 *   `queue`. Destructive: a dead letter is gone from the node once read (there is no ack).
 * - `channel/<name>`: the node's pub/sub channel `<name>` (§4): fire-and-forget, nothing kept,
 *   only subscribers connected at that moment get it; a publish with no subscriber succeeds.
 */
import type { Buffer } from "node:buffer";
import {
  GmqError,
  type InboundMessage,
  type OutboundMessage,
  type SubscribeRequest,
  type Transport,
  type TransportSink,
  type TransportSubscribeOptions,
} from "gmq";
import { nodeFailed, onSomeNode, pickWeighted, upNodes } from "../gnode-http/cluster.js";
import { CreditGate } from "../gnode-http/credit.js";
import { encodeBody, unwrap } from "../gnode-http/envelope.js";
import type { HttpIo } from "../gnode-http/http-node.js";
import { checkBodySize, checkName, delaySeconds, nameProblem, routeKeyFor } from "../gnode-http/names.js";
import { openOnNodes, sleep } from "../gnode-http/node-streams.js";
import { GNODE_REASONS } from "../gnode-http/reasons.js";
import {
  checkQueueMessage,
  type GnodeCommonOptions,
  resolveCommon,
  weightOf,
} from "../gnode-http/settings.js";
import { openChannel, type QueueConsumer, readLoop } from "./consumers.js";
import { bytes } from "./node-socket.js";
import { type GnodeNode, TcpNode } from "./tcp-node.js";

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
const DEAD = "dead/";
const CHANNEL_NAME = /^[^\s\p{Cc}]{1,200}$/u;

export function gnode(options: GnodeOptions): Transport {
  if (typeof options !== "object" || options === null) throw GmqError.invalid("options", "must be an object");
  const common = resolveCommon(options, MAX_TCP_BODY);
  const { slashAsDot, random, retryMs } = common;
  const ms = (value: unknown, field: string, fallback: number): number => {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || (value as number) < 1)
      throw GmqError.invalid(field, "must be an integer ≥ 1");
    return value as number;
  };
  const heartbeatTimeoutMs = ms(options.heartbeatTimeoutMs, "heartbeatTimeoutMs", 12_500);
  const deadPollMs = ms(options.deadPollMs, "deadPollMs", 1000);
  let closing = new AbortController();
  const io: HttpIo = {
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    get closed() {
      return closing.signal;
    },
    settings: common.settings,
  };
  const build = (specs: readonly GnodeNode[]): TcpNode[] => {
    if (!Array.isArray(specs) || specs.length === 0)
      throw GmqError.invalid("nodes", "must list at least one node");
    return specs.map((spec, i) => {
      if (typeof spec !== "object" || spec === null)
        throw GmqError.invalid(`nodes.${i}`, "must be { tcp, http }");
      return new TcpNode(spec, weightOf(spec.weight, `nodes.${i}.weight`), io, `nodes.${i}`);
    });
  };
  const list = options.nodes;
  if (typeof list !== "function" && (typeof list !== "object" || list === null)) {
    throw GmqError.invalid("nodes", "must be a node, a list of nodes or a function");
  }
  let nodes = typeof list === "function" ? [] : build(Array.isArray(list) ? list : [list as GnodeNode]);
  /** The current link: the cluster is up while one command socket is. */
  let link: { sink: TransportSink; alive: boolean } | undefined;

  const dial = async (
    node: TcpNode,
    current: NonNullable<typeof link>,
    signal?: AbortSignal,
  ): Promise<void> => {
    const socket = await node.open(
      {
        closed: (error) => {
          if (node.command !== socket) return;
          node.command = undefined;
          nodeFailed(node, Number.POSITIVE_INFINITY);
          if (!current.alive) return;
          if (nodes.every((n) => !n.command)) {
            current.alive = false;
            current.sink.onDisconnect(error);
          } else void redial(node, current);
        },
      },
      signal,
    );
    node.setup.reset();
    node.command = socket;
    node.downUntil = 0;
  };
  /** While others are up, a lost node is dialled again by itself (with backoff). */
  const redial = async (node: TcpNode, current: NonNullable<typeof link>): Promise<void> => {
    for (let attempt = 0; current.alive && !node.command; attempt++) {
      await sleep(Math.min(retryMs * 2 ** attempt, retryMs * 6), closing.signal);
      if (current.alive && !node.command) await dial(node, current).catch(() => {});
    }
  };

  async function connect(sink: TransportSink, { signal }: { signal: AbortSignal }): Promise<void> {
    if (typeof list === "function") nodes = build(await list());
    const current = { sink, alive: true };
    link = current;
    const dialled = await Promise.allSettled(nodes.map((node) => dial(node, current, signal)));
    if (nodes.every((node) => !node.command)) {
      current.alive = false;
      throw (dialled[0] as PromiseRejectedResult).reason;
    }
    for (const node of nodes) if (!node.command) void redial(node, current);
  }

  /** Runs `send` once the topic is set up on the node, keeping the order of publishes. */
  const whenSetUp = <T>(node: TcpNode, topic: string, send: () => Promise<T>): Promise<T> => {
    const setup = node.setup.ensure(topic, common.queues(topic));
    if (!setup && !node.blocked) return send();
    const ready = Promise.all([node.blocked, setup]);
    const gate = ready.then(
      () => {},
      () => {},
    );
    node.blocked = gate;
    void gate.then(() => {
      if (node.blocked === gate) node.blocked = undefined;
    });
    return ready.then(send);
  };

  /** A queue message as `pub` needs it (or `invalid_argument` / `payload_too_large`). */
  const prepare = (message: OutboundMessage) => {
    const topic = checkName(message.topic, "topic", slashAsDot);
    const { routing } = common.settings(topic);
    const routeKey = routeKeyFor(message.routeKey, routing, true);
    const body = encodeBody(message);
    checkBodySize(body, common.maxBodyBytes);
    if (routing === "exact" && routeKey !== "") common.queues(topic).add(routeKey);
    return { topic, routeKey, body, delay: delaySeconds(message.delayMs) };
  };

  const publishChannel = async (message: OutboundMessage): Promise<void> => {
    const name = channelName(message.topic.slice(CHANNEL.length), "topic");
    const body = encodeBody(message);
    checkBodySize(body, common.maxBodyBytes);
    await onSomeNode(nodes, random, retryMs, async (node) => {
      try {
        await node.socket.request(`publish ${name}`, [bytes(body)]);
      } catch (error) {
        // Fire-and-forget: nobody listening is not a failure (like MQTT).
        if (!GmqError.is(error) || !error.message.endsWith("no subscribers")) throw error;
      }
    });
  };

  async function publish(message: OutboundMessage): Promise<void> {
    if (message.topic.startsWith(CHANNEL)) return publishChannel(message);
    const { topic, routeKey, body, delay } = prepare(message);
    const item = [bytes(body)];
    await onSomeNode(nodes, random, retryMs, (node) =>
      whenSetUp(node, topic, () => node.socket.request(`pub ${topic} ${routeKey} ${delay}`, item, true)),
    );
  }

  /** Runs of one topic (≤ 1000) as `mpub`s on nodes chosen by weight; channels one by one. */
  async function publishBatch(
    messages: readonly OutboundMessage[],
  ): Promise<readonly (unknown | undefined)[]> {
    const results: unknown[] = new Array(messages.length).fill(undefined);
    /** One `mpub` per topic and node, each message's node chosen by weight. */
    const runs = new Map<
      string,
      { topic: string; node: TcpNode; at: number[]; items: Buffer[]; keys: string[] }
    >();
    const up = upNodes(nodes);
    const sends: Promise<void>[] = [];
    messages.forEach((message, i) => {
      if (message.topic.startsWith(CHANNEL)) {
        sends.push(
          publishChannel(message).catch((error: unknown) => {
            results[i] = error;
          }),
        );
        return;
      }
      try {
        const { topic, routeKey, body, delay } = prepare(message);
        const node = up.length === 1 ? up[0]! : pickWeighted(up, random);
        const key = `${topic} ${node.address}`;
        let run = runs.get(key);
        if (!run || run.items.length === 1000) {
          run = { topic, node, at: [], items: [], keys: [] };
          runs.set(key, run);
        }
        run.at.push(i);
        run.keys.push(routeKey);
        run.items.push(bytes(JSON.stringify({ body, delay, route_key: routeKey })));
      } catch (error) {
        results[i] = error;
      }
    });
    for (const run of runs.values()) {
      const send = async (node: TcpNode) => {
        const reply = await node.socket.request(`mpub ${run.topic} ${run.items.length}`, run.items, true);
        // Bare numbers in a JSON array: read them as text, never as JS numbers.
        const ids = reply.toString("latin1").match(/\d+/g) ?? [];
        if (ids.length !== run.items.length) {
          throw new GmqError("protocol", `gnode mpub: ${ids.length} ids for ${run.items.length} messages`, {
            reason: GNODE_REASONS.BAD_REPLY,
          });
        }
      };
      const outcome = onSomeNode(
        nodes,
        random,
        retryMs,
        (node) => whenSetUp(node, run.topic, () => send(node)),
        run.node,
      );
      sends.push(
        outcome.catch((error: unknown) => {
          // The node pushed the items before the first whose route key matched no queue.
          const key = GmqError.is(error) ? /routeKey:(.*) is not match/.exec(error.message)?.[1] : undefined;
          const failed = key === undefined ? -1 : run.keys.indexOf(key);
          run.at.forEach((index, k) => {
            if (failed < 0 || k > failed) results[index] = failed < 0 ? error : retryLater(error);
            else if (k === failed) results[index] = error;
          });
        }),
      );
    }
    await Promise.all(sends);
    return results;
  }

  async function subscribe(
    request: SubscribeRequest,
    { signal, sink, flow }: TransportSubscribeOptions,
  ): Promise<void> {
    const pattern = request.pattern;
    if (pattern.startsWith(CHANNEL)) {
      const name = channelName(pattern.slice(CHANNEL.length), "pattern");
      const consumer = {
        name,
        appTopic: pattern,
        signal,
        flow,
        deliver: (message: InboundMessage) => sink.message(message),
        decode: decodeChannel,
      };
      const open = new Map<TcpNode, { ended: Promise<void> }>();
      return openOnNodes(
        nodes,
        { signal, sink, retryMs },
        async (node) => void open.set(node, await openChannel(node, consumer)),
        (node) => open.get(node)!.ended,
      );
    }
    const dead = pattern.startsWith(DEAD);
    const topic = checkName(dead ? pattern.slice(DEAD.length) : pattern, "pattern", slashAsDot);
    const bindKey = checkName(request.queue ?? "default", "queue", slashAsDot);
    const queues = common.queues(topic);
    if (!dead) queues.add(bindKey);
    const ensure = async (node: TcpNode) => {
      node.socket; // a node that is down cannot be set up
      await node.setup.ensure(topic, queues);
    };
    const consumer: QueueConsumer = {
      topic,
      bindKey,
      appTopic: pattern,
      signal,
      sink,
      gate: new CreditGate(flow),
      heartbeatTimeoutMs,
      deadPollMs,
      ensure: async (node) => {
        node.setup.reset();
        await ensure(node);
      },
    };
    await openOnNodes(nodes, { signal, sink, retryMs }, ensure, (node) => readLoop(node, consumer, dead));
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
        topic.startsWith(CHANNEL) ? channelProblem(topic) : nameProblem(wire(topic, slashAsDot)),
      pattern: (p) =>
        p.startsWith(CHANNEL)
          ? channelProblem(p)
          : nameProblem(wire(p.startsWith(DEAD) ? p.slice(DEAD.length) : p, slashAsDot)),
    },
    checkPublish: (message) => {
      if (!message.topic.startsWith(CHANNEL)) checkQueueMessage(common, message, true);
    },
    connect,
    publish,
    publishBatch,
    subscribe,
    async disconnect() {
      if (link) link.alive = false;
      link = undefined;
      closing.abort(new GmqError("closed", "transport closed"));
      closing = new AbortController();
      for (const node of nodes) node.command?.destroy();
    },
  };
}

const wire = (name: string, slashAsDot: boolean) => (slashAsDot ? name.replaceAll("/", ".") : name);

function channelProblem(topic: string): string | undefined {
  const name = topic.slice(CHANNEL.length);
  return CHANNEL_NAME.test(name)
    ? undefined
    : `a channel name has no spaces or control characters: "${name}"`;
}

function channelName(name: string, field: string): string {
  if (!CHANNEL_NAME.test(name)) throw GmqError.invalid(field, channelProblem(`${CHANNEL}${name}`)!);
  return name;
}

/** A channel's bytes: a gmq envelope, or another publisher's raw bytes. */
function decodeChannel(topic: string, payload: Buffer): InboundMessage {
  const e = payload[0] === 0x7b ? unwrap(payload.toString("utf8")) : undefined;
  return e ? { topic, ...e } : { topic, payload };
}

/** An item the node never read (after an `mpub` failed mid-way): send it again. */
const retryLater = (cause: unknown) =>
  new GmqError("disconnected", "gnode mpub: not read by the node after an earlier item failed", { cause });
