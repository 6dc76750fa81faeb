/**
 * `gmq/websocket` over two hubs sharing one nats-server (NATS engine): a publisher on one hub
 * and a subscriber on the other, a queue group spread over both, a call answered across them,
 * and a hub process killed mid-stream whose clients move to the other hub (a URL list) with
 * nothing lost and nothing doubled.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { type Client, createClient, type SubscriptionStateChange } from "gmq";
import { waitFor } from "gmq/contract";
import { createHub, type Hub, natsEngine } from "gmq/hub";
import { websocket } from "gmq/websocket";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type NatsJetStream, natsServerBinary, startNatsJetStream } from "./support/nats-jetstream.js";

const fixture = new URL("./fixtures/hub-process.ts", import.meta.url).pathname;

describe.skipIf(!natsServerBinary.available)("gmq/websocket over two hubs on NATS", () => {
  let nats: NatsJetStream;
  let run = 0;
  const hubs: Hub[] = [];
  const children: ChildProcess[] = [];
  const clients: Client[] = [];

  beforeAll(async () => {
    nats = await startNatsJetStream();
  });
  afterAll(async () => {
    await nats?.close();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    for (const child of children.splice(0)) child.kill("SIGKILL");
    for (const hub of hubs.splice(0)) await hub.close();
  });

  const hubPair = async () => {
    const prefix = `ws${++run}`;
    const make = async (name: string) => {
      const hub = await createHub({ name, engine: natsEngine({ servers: nats.url, prefix }) });
      hubs.push(hub);
      return hub;
    };
    return { prefix, a: await make("a"), b: await make("b") };
  };

  const client = (url: string | string[]) => {
    const c = createClient({
      transport: websocket({ url }),
      reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    });
    c.on("error", () => {});
    clients.push(c);
    return c;
  };

  it("delivers from a publisher on one hub to a subscriber on the other, in order", async () => {
    const { a, b } = await hubPair();
    const got: number[] = [];
    const wild: string[] = [];
    const sub = client(b.url);
    await sub.subscribe<number>("room/1", (m) => void got.push(m.data)).ready;
    await sub.subscribe("room/+", (m) => void wild.push(m.topic)).ready;
    const pub = client(a.url);
    await Promise.all(Array.from({ length: 100 }, (_, i) => pub.publish("room/1", i)));
    await waitFor(() => got.length >= 100 && wild.length >= 100, 10_000, "100 messages");
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(wild.length).toBe(100);
  });

  it("spreads a queue group over both hubs, each message once", async () => {
    const { a, b } = await hubPair();
    const seen = new Map<string, number[]>();
    for (const [name, url] of [
      ["a1", a.url],
      ["a2", a.url],
      ["b1", b.url],
      ["b2", b.url],
    ] as const) {
      const got: number[] = [];
      seen.set(name, got);
      await client(url).subscribe<number>("jobs/+", (m) => void got.push(m.data), { queue: "workers" }).ready;
    }
    const pub = client(a.url);
    for (let i = 0; i < 80; i++) await pub.publish(`jobs/${i % 4}`, i);
    const all = () => [...seen.values()].flat();
    await waitFor(() => all().length >= 80, 10_000, "80 jobs");
    await new Promise((r) => setTimeout(r, 300));
    expect(all().sort((x, y) => x - y)).toEqual(Array.from({ length: 80 }, (_, i) => i));
    expect(seen.get("a1")!.length + seen.get("a2")!.length).toBeGreaterThan(0);
    expect(seen.get("b1")!.length + seen.get("b2")!.length).toBeGreaterThan(0);
  });

  it("answers a call across hubs, and a remote error is `remote`", async () => {
    const { a, b } = await hubPair();
    const server = client(b.url);
    server.handle("Math", "double", (n: number) => {
      if (n < 0) throw new Error("negative");
      return n * 2;
    });
    await server.connect();
    const caller = client(a.url);
    await waitFor(() => server.state === "connected", 5_000);
    await new Promise((r) => setTimeout(r, 200)); // the handler registration reaches NATS
    expect(await caller.call("Math", "double", 21, { timeoutMs: 5_000 })).toBe(42);
    await expect(caller.call("Math", "double", -1, { timeoutMs: 5_000 })).rejects.toMatchObject({
      code: "remote",
      message: "negative",
    });
    await expect(caller.call("Math", "nobody", 1, { timeoutMs: 5_000 })).rejects.toMatchObject({
      code: "no_responder",
    });
  });

  it("a hub killed mid-stream: its publisher and subscriber move to the other hub, nothing lost or doubled", async () => {
    const { prefix, b } = await hubPair();
    const child = spawn(process.execPath, ["--import", "tsx", fixture, nats.url, prefix], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let output = "";
    child.stdout!.on("data", (chunk) => (output += chunk));
    child.stderr!.on("data", (chunk) => (output += chunk));
    await waitFor(() => /url (\S+)/.test(output), 20_000, `the child hub to listen:\n${output}`);
    const killed = /url (\S+)/.exec(output)![1]!;

    const topic = "stream/failover";
    const total = 600;
    const subscriber = client([killed, b.url]);
    const got: number[] = [];
    const changes: SubscriptionStateChange[] = [];
    const sub = subscriber.subscribe<number>(topic, (m) => void got.push(m.data));
    sub.on("state", (change) => changes.push(change));
    await sub.ready;
    const observer = client(b.url);
    const observed: number[] = [];
    await observer.subscribe<number>(topic, (m) => void observed.push(m.data)).ready;
    const publisher = client([killed, b.url]);
    await publisher.connect();

    for (let i = 0; i < total; i++) {
      void publisher.publish(topic, i);
      if (i === total / 2) child.kill("SIGKILL");
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => publisher.outboxStats().count === 0, 30_000, "the publisher's outbox to empty");
    await waitFor(() => got.length >= total && observed.length >= total, 30_000, `${total} at both`);
    await new Promise((r) => setTimeout(r, 300));
    const expected = Array.from({ length: total }, (_, i) => i);
    expect(got).toEqual(expected);
    expect(observed).toEqual(expected);
    expect(changes.filter((c) => c.to === "subscribed").length).toBeGreaterThanOrEqual(2);
    expect(changes.filter((c) => c.to === "subscribed").every((c) => c.recovered !== false)).toBe(true);
  }, 60_000);
});
