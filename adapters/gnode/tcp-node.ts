/**
 * One gmq node as the TCP adapter sees it: its command socket (`pub`, `ack`, `queue`, `publish`),
 * the HTTP API it needs only for `/config` (TCP has no safe way to configure a topic), and what
 * it has set up.
 */
import { GmqError } from "gmq";
import { type ClusterNode, topicSetup } from "../gnode-http/cluster.js";
import { baseUrl, configure, type HttpIo, unlessExisting } from "../gnode-http/http-node.js";
import { noop, unreachable } from "../gnode-http/reasons.js";
import { type Topic, weightOf } from "../gnode-http/settings.js";
import { type NodeSocket, openSocket, type SocketOptions } from "./node-socket.js";

export interface GnodeNode {
  /** The node's TCP address, `host:port` (e.g. `127.0.0.1:9503`). */
  readonly tcp: string;
  /** Its HTTP address (e.g. `http://127.0.0.1:9504`), for `/config`. */
  readonly http: string;
  /** Share of the publishes (§5 weighted choice). Default 1. */
  readonly weight?: number | string;
}

export interface TcpNode extends ClusterNode {
  /** The socket for `pub`, `ack`, `queue` and `publish`, while it is up. */
  command: NodeSocket | undefined;
  /** Sets `topic` up if need be; what is sent after it waits for every setup under way, so
   *  publishes keep their order on the node. Undefined when nothing is to wait for. */
  ready(topic: string, queues: Set<string>): Promise<unknown> | undefined;
  /** One command on the command socket; `disconnected` while it is down. */
  request(line: string, item?: string | readonly string[], push?: boolean): Promise<Buffer>;
  down(): GmqError;
  ack(id: string, topic: string, bindKey: string): Promise<void>;
  /** A socket of its own, connected; `signal` closes it. */
  open(signal: AbortSignal, options?: SocketOptions): Promise<NodeSocket>;
}

export function tcpNode(spec: GnodeNode, field: string, io: HttpIo, topic: (name: string) => Topic): TcpNode {
  if (typeof spec !== "object" || spec === null) throw GmqError.invalid(field, "must be { tcp, http }");
  // `host:port`, `[v6]:port` or `:port` (all interfaces: this machine).
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(spec.tcp);
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65_535) {
    throw GmqError.invalid(`${field}.tcp`, `must be host:port, got "${spec.tcp}"`);
  }
  const host = match[1] ?? (match[2] || "127.0.0.1");
  const http = baseUrl(spec.http, `${field}.http`);
  /** Setups under way (failures swallowed): what is sent after one waits for it. */
  let busy: Promise<unknown> | undefined;
  const node: TcpNode = {
    weight: weightOf(spec.weight, `${field}.weight`),
    // Skipped by publishes while its command socket is down.
    downUntil: Infinity,
    command: undefined,
    setup: topicSetup((name, bindKey) =>
      bindKey === undefined
        ? configure(io, http, name, topic(name))
        : node.request(`queue ${name} ${bindKey}`).then(noop, unlessExisting),
    ),

    ready(topic, queues) {
      const setup = node.setup.ensure(topic, queues);
      if (!setup && !busy) return;
      const ready = Promise.all([busy, setup]);
      const settled = ready.then(noop, noop);
      busy = settled;
      void settled.then(() => {
        if (busy === settled) busy = undefined;
      });
      return ready;
    },

    request: (line, item, push) => node.command?.request(line, item, push) ?? Promise.reject(node.down()),

    down: () => unreachable(`gnode ${host}:${port}: not connected`),

    ack: (id, topic, bindKey) => node.request(`ack ${id} ${topic} ${bindKey}`).then(noop),

    open: (signal, options = {}) => openSocket(host, port, signal, options),
  };
  return node;
}
