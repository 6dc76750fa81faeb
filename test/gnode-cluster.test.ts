/**
 * Several gmq nodes (spec §5, no replication) through both adapters: publishes spread by weight,
 * a consumer pops on every node and acks each message on the node it came from, and a node
 * killed mid-stream loses its share of new publishes to the others with nothing lost from the
 * outbox. Discovery from a real etcd (Debian `etcd-server`) where it is installed.
 */
import { type Client, createClient, type Message, type Transport } from "gmq";
import { waitFor } from "gmq/contract";
import { etcdNodes, gnode } from "gmq/gnode";
import { gnodeHttp } from "gmq/gnode-http";
import type { GnodeEmulator } from "gmq/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startNode } from "./support/gnode-wire.js";
import { freePort, type RunningProcess, requireBinary, startProcess, tempDir } from "./support/system.js";

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function client(transport: Transport): Client {
  const c = createClient({ transport, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
  c.on("error", () => {});
  clients.push(c);
  return c;
}

/** An even spread over [0, 1): the §5 draw then hits each node exactly by its weight. */
function evenRandom(n: number): () => number {
  let k = 0;
  return () => ((k++ % n) + 0.5) / n;
}

const WEIGHTS = [1, 2, 3];
const adapters = {
  "gnode-http": (nodes: GnodeEmulator[], random?: () => number) =>
    gnodeHttp({
      url: nodes.map((node, i) => ({ url: node.httpUrl, weight: WEIGHTS[i] })),
      nodeRetryMs: 200,
      ...(random && { random }),
    }),
  gnode: (nodes: GnodeEmulator[], random?: () => number) =>
    gnode({
      nodes: nodes.map((node, i) => ({
        tcp: `127.0.0.1:${node.tcpPort}`,
        http: node.httpUrl,
        weight: WEIGHTS[i],
      })),
      nodeRetryMs: 200,
      ...(random && { random }),
    }),
};

describe.each(Object.entries(adapters))("one node through %s", (_name, make) => {
  it("consumers of one bind key compete: each message reaches exactly one of them", async () => {
    const node = await startNode();
    const [a, b, sender] = [client(make([node])), client(make([node])), client(make([node]))];
    const seen: number[][] = [[], []];
    await Promise.all(
      [a, b].map(
        (c, i) => c.subscribe<number>("work", (m) => void seen[i]!.push(m.data), { queue: "w" }).ready,
      ),
    );
    for (let i = 0; i < 40; i++) await sender.publish("work", i, { routeKey: "w" });
    await waitFor(() => seen[0]!.length + seen[1]!.length === 40, 10_000, "40 messages");
    expect([...seen[0]!, ...seen[1]!].sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(seen[0]!.length).toBeGreaterThan(0);
    expect(seen[1]!.length).toBeGreaterThan(0);
  });
});

describe.each(Object.entries(adapters))("three nodes through %s", (_name, make) => {
  it("publishes spread by weight; one consumer pops on all three and acks each message where it came from", async () => {
    const nodes = await Promise.all([
      startNode({ nodeId: 1 }),
      startNode({ nodeId: 2 }),
      startNode({ nodeId: 3 }),
    ]);
    const sender = client(make(nodes, evenRandom(60)));
    for (let i = 0; i < 60; i++) await sender.publish("spread", i);
    expect(nodes.map((node) => node.topic("spread")!.queues.default!.unread)).toEqual([10, 20, 30]);

    const receiver = client(make(nodes));
    const got: Message<number>[] = [];
    const sub = receiver.subscribe<number>("spread", (m) => void got.push(m), { ack: "manual" });
    await sub.ready;
    await waitFor(() => got.length === 60, 10_000, "60 messages");
    expect(got.map((m) => m.data).sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(nodes.map((node) => node.topic("spread")!.queues.default!.inFlight)).toEqual([10, 20, 30]);
    await Promise.all(got.map((m) => m.ack())); // an ack on the wrong node would be refused
    expect(nodes.map((node) => node.topic("spread")!.queues.default)).toMatchObject([
      { unread: 0, inFlight: 0 },
      { unread: 0, inFlight: 0 },
      { unread: 0, inFlight: 0 },
    ]);
  });

  it("a node killed mid-stream: its share of new publishes moves to the others, nothing is lost", async () => {
    const nodes = await Promise.all([
      startNode({ nodeId: 1 }),
      startNode({ nodeId: 2 }),
      startNode({ nodeId: 3 }),
    ]);
    const sender = client(make(nodes));
    const receiver = client(make(nodes));
    const got = new Set<number>();
    const sub = receiver.subscribe<number>("kill", (m) => void got.add(m.data));
    await sub.ready;
    const restarts: string[] = [];
    sub.on("state", (change) => restarts.push(change.to));
    for (let i = 0; i < 30; i++) await sender.publish("kill", i);
    await waitFor(() => got.size === 30, 10_000, "the first 30");
    expect(nodes.every((node) => node.topic("kill")!.pushNum > 0)).toBe(true);
    const pushedBefore = nodes.map((node) => node.topic("kill")!.pushNum);

    await nodes[2]!.close(); // the heaviest node dies under a running stream
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => sender.publish("kill", 30 + i)));
    await waitFor(() => sender.outboxStats().count === 0, 10_000, "an empty outbox");
    await waitFor(() => got.size === 90, 10_000, "all 90");
    expect(results.every((r) => r.status === "sent" || r.status === "queued")).toBe(true);
    const moved = [0, 1].map((i) => nodes[i]!.topic("kill")!.pushNum - pushedBefore[i]!);
    expect(moved[0]! + moved[1]!).toBeGreaterThanOrEqual(60);
    expect(moved.every((n) => n > 0)).toBe(true);
    // The stream kept running on the two nodes left: it was never restarted as a whole.
    expect(restarts).toEqual([]);
    expect(sub.state).toBe("subscribed");
  });
});

const etcd = requireBinary("etcd", "/usr/bin/etcd");

describe.skipIf(!etcd.available)("discovery from etcd (gnode 2.0's /gmq/node-<id> registrations)", () => {
  let server: RunningProcess;
  let dir: { path: string; remove(): void };
  let endpoint: string;

  beforeAll(async () => {
    dir = tempDir("etcd");
    const [client, peer] = [await freePort(), await freePort()];
    endpoint = `http://127.0.0.1:${client}`;
    server = await startProcess(
      etcd.path,
      [
        "--data-dir",
        dir.path,
        "--listen-client-urls",
        endpoint,
        "--advertise-client-urls",
        endpoint,
        "--listen-peer-urls",
        `http://127.0.0.1:${peer}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${peer}`,
        "--initial-cluster",
        `default=http://127.0.0.1:${peer}`,
      ],
      { ports: [client], timeoutMs: 20_000 },
    );
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
    dir?.remove();
  });

  it("finds the registered nodes (listen addresses fixed up) and spreads work over them", async () => {
    const nodes = await Promise.all([startNode({ nodeId: 7 }), startNode({ nodeId: 8 })]);
    const { Etcd3 } = await import("etcd3");
    const registry = new Etcd3({ hosts: endpoint });
    try {
      for (const [i, node] of nodes.entries()) {
        await registry.put(`/gmq/node-${node.nodeId}`).value(
          JSON.stringify({
            tcp_addr: `:${node.tcpPort}`, // an empty host: the node listens on every interface
            http_addr: `127.0.0.1:${node.httpPort}`,
            weight: String(i + 1),
            node_id: String(node.nodeId),
            join_time: "2030-01-01 00:00:00",
          }),
        );
      }
      await registry.put("/other/key").value("not a node");
    } finally {
      registry.close();
    }
    const discover = etcdNodes({ hosts: endpoint });
    expect(await discover()).toEqual(
      nodes.map((node, i) => ({
        tcp: `127.0.0.1:${node.tcpPort}`,
        http: `http://127.0.0.1:${node.httpPort}`,
        weight: String(i + 1),
      })),
    );
    const c = client(gnode({ nodes: discover }));
    const got: number[] = [];
    await c.subscribe<number>("found", (m) => void got.push(m.data)).ready;
    for (let i = 0; i < 40; i++) await c.publish("found", i);
    await waitFor(() => got.length === 40, 10_000, "40 messages");
    expect(nodes.every((node) => node.topic("found")!.pushNum > 0)).toBe(true);
  });
});
