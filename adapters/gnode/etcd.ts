/**
 * Optional node discovery from etcd (spec §5), through `etcd3` (install it to use this): nodes
 * register `/gmq/node-<id>` under a lease, with all-string values `tcp_addr`, `http_addr`,
 * `weight`, `node_id`, `join_time`. Their addresses are listen addresses: an empty host (`:9503`)
 * means the machine the node runs on. In gnode 2.0 registration is behind a switch nothing sets,
 * so a static node list stays the primary configuration.
 */
import { GmqError } from "gmq";
import { unreachable } from "../gnode-http/reasons.js";
import type { GnodeNode } from "./tcp-node.js";

export interface EtcdNodesOptions {
  /** etcd endpoints, e.g. `http://127.0.0.1:2379`. */
  hosts: string | readonly string[];
  /** Default `/gmq/node`. */
  prefix?: string;
  /** The host to use for nodes registered with an empty or loopback host. Default: the first
   *  endpoint's host for an empty one; loopback hosts are kept. */
  host?: string;
  /** Passed to `etcd3` as is (auth, credentials…). */
  etcd?: Record<string, unknown>;
}

/** A `nodes` function for `gnode()`: reads the prefix once per (re)connect (no watch). */
export function etcdNodes(options: EtcdNodesOptions): () => Promise<GnodeNode[]> {
  const hosts = [options.hosts].flat();
  if (hosts.length === 0 || hosts.some((h) => typeof h !== "string")) {
    throw GmqError.invalid("hosts", "must be an etcd endpoint or a list of them");
  }
  const first = hosts[0]!;
  const fallback = options.host ?? new URL(first.includes("://") ? first : `http://${first}`).hostname;
  const fix = (address: unknown): string => {
    const match = /^(.*):(\d+)$/.exec(`${address}`);
    if (!match) throw new GmqError("protocol", `etcd: a node address "${address}" is not host:port`);
    let host = match[1]!;
    if (host === "" || (options.host && /^(127\.|localhost$|::1$|0\.0\.0\.0$)/.test(host))) host = fallback;
    return `${host.includes(":") ? `[${host}]` : host}:${match[2]}`;
  };
  return async () => {
    const { Etcd3 } = await import("etcd3").catch((cause: unknown) => {
      throw new GmqError("unsupported", "etcdNodes needs the `etcd3` package: npm install etcd3", { cause });
    });
    const client = new Etcd3({ ...options.etcd, hosts });
    try {
      const entries = await client
        .getAll()
        .prefix(options.prefix ?? "/gmq/node")
        .strings();
      return Object.keys(entries)
        .sort()
        .map((key) => {
          // All strings: `tcp_addr`, `http_addr`, `weight`, `node_id`, `join_time`.
          const { tcp_addr, http_addr, weight } = JSON.parse(entries[key]!);
          return { tcp: fix(tcp_addr), http: `http://${fix(http_addr)}`, weight: `${weight ?? 1}` };
        });
    } catch (cause) {
      throw GmqError.is(cause) ? cause : unreachable(`etcd: ${(cause as Error).message}`, cause);
    } finally {
      client.close();
    }
  };
}
