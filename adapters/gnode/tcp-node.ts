/**
 * One gmq node as the TCP adapter sees it: its command socket (`pub`, `ack`, `queue`, `publish`),
 * the HTTP API it needs only for `/config` (TCP has no safe way to configure a topic), and what
 * it has set up.
 */
import { GmqError } from "gmq";
import { type ClusterNode, type TopicSetup, topicSetup } from "../gnode-http/cluster.js";
import { baseUrl, configure, type HttpIo, unlessExisting } from "../gnode-http/http-node.js";
import { noop, unreachable } from "../gnode-http/reasons.js";
import { type Topic, weightOf } from "../gnode-http/settings.js";
import { NodeSocket, type SocketOptions } from "./node-socket.js";

export interface GnodeNode {
  /** The node's TCP address, `host:port` (e.g. `127.0.0.1:9503`). */
  readonly tcp: string;
  /** Its HTTP address (e.g. `http://127.0.0.1:9504`), for `/config`. */
  readonly http: string;
  /** Share of the publishes (§5 weighted choice). Default 1. */
  readonly weight?: number | string;
}

export class TcpNode implements ClusterNode {
  /** Skipped by publishes while its command socket is down. */
  downUntil = Number.POSITIVE_INFINITY;
  command: NodeSocket | undefined;
  readonly setup: TopicSetup;
  readonly weight: number;
  readonly #host: string;
  readonly #port: number;
  /** Setups under way (failures swallowed): what is sent after one waits for it. */
  #busy: Promise<unknown> | undefined;

  constructor(spec: GnodeNode, field: string, io: HttpIo, topic: (name: string) => Topic) {
    if (typeof spec !== "object" || spec === null) throw GmqError.invalid(field, "must be { tcp, http }");
    // `host:port`, `[v6]:port` or `:port` (all interfaces: this machine).
    const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(spec.tcp);
    this.#port = Number(match?.[3]);
    if (!match || this.#port < 1 || this.#port > 65_535) {
      throw GmqError.invalid(`${field}.tcp`, `must be host:port, got "${spec.tcp}"`);
    }
    this.#host = match[1] ?? (match[2] || "127.0.0.1");
    this.weight = weightOf(spec.weight, `${field}.weight`);
    const http = baseUrl(spec.http, `${field}.http`);
    this.setup = topicSetup((name, bindKey) =>
      bindKey === undefined
        ? configure(io, http, name, topic(name))
        : this.request(`queue ${name} ${bindKey}`).then(noop, unlessExisting),
    );
  }

  /** Sets `topic` up if need be; what is sent after it waits for every setup under way, so
   *  publishes keep their order on the node. Undefined when nothing is to wait for. */
  ready(topic: string, queues: Set<string>): Promise<unknown> | undefined {
    const setup = this.setup.ensure(topic, queues);
    if (!setup && !this.#busy) return;
    const ready = Promise.all([this.#busy, setup]);
    const busy = ready.then(noop, noop);
    this.#busy = busy;
    void busy.then(() => {
      if (this.#busy === busy) this.#busy = undefined;
    });
    return ready;
  }

  /** One command on the command socket; `disconnected` while it is down. */
  request(line: string, item?: string, push?: boolean): Promise<Buffer> {
    return this.command?.request(line, item, push) ?? Promise.reject(this.down());
  }

  down(): GmqError {
    return unreachable(`gnode ${this.#host}:${this.#port}: not connected`);
  }

  ack(id: string, topic: string, bindKey: string): Promise<void> {
    return this.request(`ack ${id} ${topic} ${bindKey}`).then(noop);
  }

  /** A socket of its own, connected; `signal` closes it. */
  open(signal: AbortSignal, options: SocketOptions = {}): Promise<NodeSocket> {
    return new NodeSocket(this.#host, this.#port, signal, options).connected();
  }
}
