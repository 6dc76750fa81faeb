/**
 * Recovery through `gmq/websocket`: a subscriber cut off while messages are published gets each
 * of them after it reconnects, in order, once — after a reconnect, and after a Node process
 * restart (file store) — and hears `recovered: false` when the hub lost its history.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { type Client, createClient, type SubscriptionStateChange } from "gmq";
import { waitFor } from "gmq/contract";
import { createHub, memoryEngine } from "gmq/hub";
import { websocket } from "gmq/websocket";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RestartableHub, startRestartableHub } from "./support/hub-harness.js";
import { tempDir } from "./support/system.js";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.js";

const fixture = new URL("./fixtures/websocket-subscriber.ts", import.meta.url).pathname;
let hub: RestartableHub;
let proxy: TcpProxy;
const clients: Client[] = [];
let run = 0;

beforeAll(async () => {
  hub = await startRestartableHub();
  proxy = await startTcpProxy(Number(new URL(hub.url).port));
});
afterAll(async () => {
  await proxy.close();
  await hub.close();
});
afterEach(async () => {
  proxy.block(false);
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function client(url: string | string[]): Client {
  const c = createClient({
    transport: websocket({ url }),
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  c.on("error", () => {});
  clients.push(c);
  return c;
}

/** A subscriber through the proxy (so it can be cut off), counting what it gets. */
async function subscriber(topic: string) {
  const c = client(proxy.url("/gmq"));
  const got: number[] = [];
  const changes: SubscriptionStateChange[] = [];
  const sub = c.subscribe<{ n: number }>(topic, (m) => void got.push(m.data.n));
  sub.on("state", (change) => changes.push(change));
  await sub.ready;
  return { c, got, changes };
}

async function publish(topic: string, from: number, count: number): Promise<void> {
  const publisher = client(hub.url);
  await publisher.connect();
  const results = await Promise.all(
    Array.from({ length: count }, (_, i) => publisher.publish(topic, { n: from + i })),
  );
  expect(results.every((r) => r.status === "sent")).toBe(true);
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

describe("gmq/websocket recovery", () => {
  it("a subscriber cut off before its first message gets all 500 published meanwhile, in order, once", async () => {
    const topic = `rec/${++run}`;
    const s = await subscriber(topic);
    proxy.block(true);
    await waitFor(() => s.c.state === "reconnecting", 5_000, "the subscriber to notice");
    await publish(topic, 0, 500);
    proxy.block(false);
    await waitFor(() => s.got.length >= 500, 15_000, "500 messages");
    await new Promise((r) => setTimeout(r, 200));
    expect(s.got).toEqual(range(0, 500));
    expect(s.changes.filter((c) => c.to === "subscribed").at(-1)?.recovered).toBe(true);
  });

  it("a subscriber cut off mid-stream resumes after the last message it handled", async () => {
    const topic = `rec/${++run}`;
    const s = await subscriber(topic);
    await publish(topic, 0, 20);
    await waitFor(() => s.got.length === 20, 5_000, "the first 20");
    proxy.block(true);
    await waitFor(() => s.c.state === "reconnecting", 5_000, "the subscriber to notice");
    await publish(topic, 20, 500);
    proxy.block(false);
    await waitFor(() => s.got.length >= 520, 15_000, "520 messages");
    await new Promise((r) => setTimeout(r, 200));
    expect(s.got).toEqual(range(0, 520));
  });

  it("says recovered: false when the hub lost its history, and goes on with live messages", async () => {
    const topic = `rec/${++run}`;
    const s = await subscriber(topic);
    await publish(topic, 0, 3);
    await waitFor(() => s.got.length === 3, 5_000, "the first 3");
    proxy.block(true);
    await waitFor(() => s.c.state === "reconnecting", 5_000, "the subscriber to notice");
    await publish(topic, 3, 5);
    hub.engine.forgetHistory();
    proxy.block(false);
    await waitFor(() => s.changes.filter((c) => c.to === "subscribed").length === 2, 10_000, "a resubscribe");
    expect(s.changes.filter((c) => c.to === "subscribed").at(-1)?.recovered).toBe(false);
    await publish(topic, 100, 2);
    await waitFor(() => s.got.length === 5, 5_000, "the live messages");
    expect(s.got).toEqual([0, 1, 2, 100, 101]);
  });

  it("a hub shutting down (4100) sends its clients to the next URL at once; the stream resumes there", async () => {
    const engine = memoryEngine();
    const a = await createHub({ engine });
    const b = await createHub({ engine });
    try {
      const topic = `rec/${++run}`;
      const c = client([a.url, b.url]);
      const got: number[] = [];
      const changes: SubscriptionStateChange[] = [];
      const sub = c.subscribe<number>(topic, (m) => void got.push(m.data));
      sub.on("state", (change) => changes.push(change));
      await sub.ready;
      const publisher = client(b.url);
      await publisher.publish(topic, 0);
      await waitFor(() => got.length === 1, 5_000, "the first message");
      const lost = new Promise<unknown>((resolve) =>
        c.on("state", (change) => change.to === "reconnecting" && resolve(change.error)),
      );
      const closing = a.close();
      await Promise.all(Array.from({ length: 50 }, (_, i) => publisher.publish(topic, 1 + i)));
      expect((await lost) as { reason?: string }).toMatchObject({ reason: "shutdown" });
      await closing;
      await waitFor(() => got.length >= 51, 10_000, "the rest on the other hub");
      await new Promise((r) => setTimeout(r, 200));
      expect(got).toEqual(range(0, 51));
      expect(changes.filter((change) => change.to === "subscribed").at(-1)?.recovered).toBe(true);
      expect(b.connections).toBe(2);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it("after a 4100 shutdown the client is back on the next hub at once, not after its backoff", async () => {
    const engine = memoryEngine();
    const a = await createHub({ engine });
    const b = await createHub({ engine });
    try {
      // A backoff of up to 5 s: coming back within a second means the core skipped it.
      const c = createClient({
        transport: websocket({ url: [a.url, b.url] }),
        reconnect: { initialDelayMs: 5_000, maxDelayMs: 5_000 },
      });
      c.on("error", () => {});
      clients.push(c);
      await c.connect();
      const started = Date.now();
      await a.close();
      await waitFor(() => b.connections === 1 && c.state === "connected", 3_000, "the client on hub b");
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it("a restarted Node process (file store) gets the 500 published while it was down, in order, once", async () => {
    const topic = `rec/${++run}`;
    const dir = tempDir("ws-restart");
    try {
      const path = join(dir.path, "outbox");
      const first = start(hub.url, path, topic);
      await first.line(/^ready recovered=none$/);
      await publish(topic, 0, 5);
      await first.line(/^got 4$/);
      await first.stop();
      expect(first.got()).toEqual(range(0, 5));

      await publish(topic, 5, 500);
      const second = start(hub.url, path, topic);
      await second.line(/^ready recovered=true$/);
      await second.line(/^got 504$/, 20_000);
      await new Promise((r) => setTimeout(r, 200));
      await second.stop();
      expect(second.got()).toEqual(range(5, 500));
    } finally {
      dir.remove();
    }
  });
});

function start(url: string, path: string, topic: string) {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", fixture, url, path, topic], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const lines = () => output.split("\n");
  return {
    got: () =>
      lines()
        .filter((l) => l.startsWith("got "))
        .map((l) => Number(l.slice(4))),
    line: (pattern: RegExp, timeoutMs = 15_000) =>
      waitFor(() => lines().some((l) => pattern.test(l)), timeoutMs, `${pattern} in:\n${output}`),
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
