/**
 * One gmq node as the TCP adapter sees it: its command socket (`pub`, `mpub`, `ack`, `queue`),
 * the HTTP API it needs only for `/config` (TCP has no safe way to configure a topic), and what
 * it has set up.
 */
import { GmqError } from "gmq";
import { type ClusterNode, TopicSetup } from "../gnode-http/cluster.js";
import { type HttpIo, HttpNode } from "../gnode-http/http-node.js";
import { NodeSocket } from "./node-socket.js";

export interface GnodeNode {
  /** The node's TCP address, `host:port` (e.g. `127.0.0.1:9503`). */
  readonly tcp: string;
  /** Its HTTP address (e.g. `http://127.0.0.1:9504`), for `/config`. */
  readonly http: string;
  /** Share of the publishes (§5 weighted choice). Default 1. */
  readonly weight?: number | string;
}

/** `host:port`, `[v6]:port` or `:port` (all interfaces: this machine). */
export function parseAddress(address: string, field: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65_535)
    throw GmqError.invalid(field, `must be host:port, got "${address}"`);
  return { host: match[1] ?? (match[2] || "127.0.0.1"), port };
}

export class TcpNode implements ClusterNode {
  /** Skipped by publishes while its command socket is down. */
  downUntil = Number.POSITIVE_INFINITY;
  command: NodeSocket | undefined;
  readonly setup: TopicSetup;
  readonly http: HttpNode;
  readonly host: string;
  readonly port: number;
  /** Publishes on this node wait behind a topic being set up, to keep their order. */
  blocked: Promise<unknown> | undefined;

  constructor(
    readonly spec: GnodeNode,
    readonly weight: number,
    io: HttpIo,
    field: string,
  ) {
    ({ host: this.host, port: this.port } = parseAddress(spec.tcp, `${field}.tcp`));
    if (typeof spec.http !== "string" || spec.http === "")
      throw GmqError.invalid(`${field}.http`, "must be a URL");
    this.http = new HttpNode(spec.http, weight, io);
    this.setup = new TopicSetup({
      configure: (topic) => this.http.configure(topic),
      declare: (topic, bindKey) => this.declare(topic, bindKey),
    });
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** The command socket, or `disconnected`. */
  get socket(): NodeSocket {
    if (!this.command?.isOpen) throw new GmqError("disconnected", `gnode ${this.address}: not connected`);
    return this.command;
  }

  private async declare(topic: string, bindKey: string): Promise<void> {
    try {
      await this.socket.request(`queue ${topic} ${bindKey}`);
    } catch (error) {
      if (!GmqError.is(error) || !error.message.endsWith("has exist.")) throw error;
    }
  }

  async ack(id: string, topic: string, bindKey: string): Promise<void> {
    await this.socket.request(`ack ${id} ${topic} ${bindKey}`);
  }

  open(events: Parameters<typeof NodeSocket.open>[2], signal?: AbortSignal): Promise<NodeSocket> {
    return NodeSocket.open(this.host, this.port, events, signal);
  }
}
