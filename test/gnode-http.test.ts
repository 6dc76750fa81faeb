/**
 * gmq/gnode-http against the gnode emulator: what is particular to the node (delays, route keys,
 * TTR redelivery, dead letters, 64-bit ids, abandoned pops, restarts, names), with the node's own
 * state read through the emulator's introspection. Every node must end with no incident.
 */
import { spawn } from "node:child_process";
import { type Client, createClient, GmqError, type Message } from "gmq";
import { waitFor } from "gmq/contract";
import { type GnodeHttpOptions, gnodeAdmin, gnodeHttp } from "gmq/gnode-http";
import { createManualClock, type GnodeEmulator, idTimeMs } from "gmq/testing";
import { afterEach, describe, expect, it } from "vitest";
import { pushOk, sleep, startNode } from "./support/gnode-wire.js";
import { startTcpForwarder } from "./support/tcp-forwarder.js";

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function client(node: GnodeEmulator | string, options: Partial<GnodeHttpOptions> = {}): Client {
  const url = typeof node === "string" ? node : node.httpUrl;
  const c = createClient({
    transport: gnodeHttp({ url, ...options }),
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
  });
  c.on("error", () => {});
  clients.push(c);
  return c;
}

function collect<T = unknown>(c: Client, topic: string, options: Parameters<Client["subscribe"]>[2] = {}) {
  const got: Message<T>[] = [];
  const sub = c.subscribe<T>(topic, (m) => void got.push(m), options as never);
  return { got, sub };
}

const refused = async (work: () => Promise<unknown>): Promise<GmqError> => {
  const error = await work().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(GmqError.is(error), String(error)).toBe(true);
  return error as GmqError;
};

describe("gmq/gnode-http", () => {
  it("round-trips JSON, bytes and headers in the envelope; ids stay exact 64-bit decimal strings", async () => {
    const node = await startNode();
    const c = client(node);
    const { got, sub } = collect(c, "rt", { ack: "manual" });
    await sub.ready;
    const sent = await c.publish("rt", { hello: "world" }, { headers: { trace: "t1" } });
    await c.publish("rt", new Uint8Array([0, 1, 2, 0xfe, 0xff]));
    await c.publish("rt", new TextEncoder().encode("\ufeffbom kept"));
    await waitFor(() => got.length === 3, 5_000, "three messages");
    expect(got[0]!.data).toEqual({ hello: "world" });
    expect(got[0]!.id).toBe(sent.id);
    expect(got[0]!.headers.trace).toBe("t1");
    expect(Array.from(got[1]!.payload)).toEqual([0, 1, 2, 0xfe, 0xff]);
    expect(Array.from(got[2]!.payload.subarray(0, 3))).toEqual([0xef, 0xbb, 0xbf]);
    for (const m of got) {
      const id = m.headers["gnode-id"]!;
      expect(id).toMatch(/^\d+$/);
      expect(BigInt(id) > 2n ** 53n).toBe(true);
      expect(Math.abs(Number(idTimeMs(id)) - Date.now())).toBeLessThan(60_000);
      expect(m.deliveryCount).toBe(0);
      expect(m.redelivered).toBe(false);
    }
    expect(node.topic("rt")!.queues.default!.inFlight).toBe(3);
    for (const m of got) await m.ack(); // the exact ids, or the node would refuse them
    expect(node.topic("rt")!.queues.default!.inFlight).toBe(0);
    expect(node.topic("rt")).toMatchObject({ mode: 1, isAutoAck: false });
  });

  it("a body from another producer arrives as its bytes, with the node's id as id", async () => {
    const node = await startNode();
    const c = client(node);
    const { got, sub } = collect(c, "raw");
    await sub.ready;
    const id = await pushOk(node, "raw", "", '{"plain":true}');
    await waitFor(() => got.length === 1, 5_000, "the message");
    expect(got[0]!.data).toEqual({ plain: true });
    expect(got[0]!.id).toBe(id);
    expect(got[0]!.headers["gnode-id"]).toBe(id);
  });

  it("delays by whole seconds rounded up, delivered by the node's scanner", async () => {
    const clock = createManualClock(Date.UTC(2030, 0, 1));
    const node = await startNode({ clock, scanIntervalMs: 0 });
    const c = client(node);
    const { got, sub } = collect<string>(c, "later");
    await sub.ready;
    await c.publish("later", "in 1.5 s", { delayMs: 1500 }); // 2 s
    await c.publish("later", "now");
    await waitFor(() => got.length === 1, 5_000, "the undelayed one");
    expect(node.topic("later")!.delayed).toBe(1);
    clock.advance(1000);
    node.scan();
    await sleep(100);
    expect(got.map((m) => m.data)).toEqual(["now"]);
    clock.advance(1000);
    node.scan();
    await waitFor(() => got.length === 2, 5_000, "the delayed one");
    expect(got[1]!.data).toBe("in 1.5 s");
  });

  it("regex topics copy a message to every queue its route key matches; exact topics to one", async () => {
    const node = await startNode();
    const c = client(node, { topics: { orders: { routing: "regex" } } });
    const created = collect(c, "orders", { queue: "orders.created" });
    const paid = collect(c, "orders", { queue: "orders.paid" });
    const audit = collect(c, "orders", { queue: "audit" });
    await Promise.all([created.sub.ready, paid.sub.ready, audit.sub.ready]);
    await c.publish("orders", "to both orders queues", { routeKey: "^orders\\." });
    await c.publish("orders", "to audit", { routeKey: "^audit$" });
    await waitFor(() => created.got.length + paid.got.length + audit.got.length === 3, 5_000, "3 copies");
    expect(created.got.map((m) => m.data)).toEqual(["to both orders queues"]);
    expect(paid.got.map((m) => m.data)).toEqual(["to both orders queues"]);
    expect(audit.got.map((m) => m.data)).toEqual(["to audit"]);
    expect(created.got[0]!.headers["gnode-id"]).toBe(paid.got[0]!.headers["gnode-id"]);

    // Exact routing (the default): the route key names the queue, and publishing declares it.
    const jobs = await c.publish("jobs", "queued before any consumer", { routeKey: "email" });
    expect(node.topic("jobs")!.queues.email!.unread).toBe(1);
    const email = collect(c, "jobs", { queue: "email" });
    await waitFor(() => email.got.length === 1, 5_000, "the queued job");
    expect(email.got[0]!.id).toBe(jobs.id);
    const missing = await refused(() => c.publish("orders", "nobody", { routeKey: "^nothing$" }));
    expect(missing.code).toBe("no_responder");
  });

  it("an unacked delivery comes back after the TTR with its retry count, then goes to the dead letters", async () => {
    const clock = createManualClock(Date.UTC(2030, 0, 1));
    const node = await startNode({ clock, scanIntervalMs: 0 });
    const options = { topics: { work: { msgTTR: 5, msgRetry: 1 } } };
    const first = client(node, options);
    const a = collect(first, "work", { ack: "manual" });
    await a.sub.ready;
    await first.publish("work", "job");
    await waitFor(() => a.got.length === 1, 5_000, "the first delivery");
    expect(node.topic("work")).toMatchObject({ msgTTR: 5, msgRetry: 1 });
    await a.sub.unsubscribe(); // never acked
    const second = client(node, options);
    const b = collect(second, "work", { ack: "manual" });
    await b.sub.ready;
    clock.advance(5_000);
    node.scan();
    await waitFor(() => b.got.length === 1, 5_000, "the redelivery");
    expect(b.got[0]!.data).toBe("job");
    expect(b.got[0]!.deliveryCount).toBe(1);
    expect(b.got[0]!.redelivered).toBe(true);
    expect(b.got[0]!.id).toBe(a.got[0]!.id);
    await b.got[0]!.nack({ requeue: true }); // nothing on the wire: the TTR decides
    clock.advance(5_000);
    node.scan();
    await sleep(100);
    expect(b.got).toHaveLength(1);
    expect(node.topic("work")!.deadQueues.default!.unread).toBe(1);
    // An ack after the TTR ran out says so.
    const late = await refused(() => a.got[0]!.ack());
    expect(late.code).toBe("timeout");
    expect(late.reason).toBe("ACK_EXPIRED");
  });

  it("a delivery the handler never acked comes back to the same subscription after the TTR, then goes to the dead letters", async () => {
    // The redelivery carries the same gmq id: it must not be dropped as a copy (and acked) by the
    // dedup window, or the node's retry — its only one — would never reach the app.
    const clock = createManualClock(Date.UTC(2030, 0, 1));
    const node = await startNode({ clock, scanIntervalMs: 0 });
    const c = client(node, { topics: { slow: { msgTTR: 5, msgRetry: 1 } } });
    const { got, sub } = collect(c, "slow", { ack: "manual" }); // never acks
    await sub.ready;
    await c.publish("slow", "job");
    await waitFor(() => got.length === 1, 5_000, "the first delivery");
    clock.advance(5_000);
    node.scan();
    await waitFor(() => got.length === 2, 5_000, "the redelivery, to the same subscription");
    expect(got.map((m) => [m.data, m.deliveryCount, m.redelivered])).toEqual([
      ["job", 0, false],
      ["job", 1, true],
    ]);
    expect(got[1]!.id).toBe(got[0]!.id);
    clock.advance(5_000);
    node.scan(); // the retry limit: to the dead letters, not to the app
    await waitFor(() => node.topic("slow")!.deadQueues.default?.unread === 1, 5_000, "the dead letter");
    await sleep(100);
    expect(got).toHaveLength(2);
  });

  it("an aborted pop loses no message: the abandoned /pop is woken, and what it takes is given back at once", async () => {
    const clock = createManualClock(Date.UTC(2030, 0, 1)); // frozen: no TTR can bring anything back
    const node = await startNode({ clock, scanIntervalMs: 0 });
    const c = client(node);
    const { sub } = collect(c, "pops");
    await sub.ready;
    await waitFor(() => node.topic("pops")!.queues.default!.consumers === 1, 5_000, "the /pop");
    await sub.unsubscribe(); // mid-pop
    // The wake-up body ends the abandoned /pop on the node, and nothing is left in flight.
    await waitFor(() => node.topic("pops")!.queues.default!.consumers === 0, 5_000, "the /pop to end");
    // The wake-up the /pop took is acked by the client a moment later (the clock is frozen, so
    // only that ack, never a TTR, can take it out of flight).
    const queue = () => node.topic("pops")!.queues.default!;
    await waitFor(() => queue().inFlight === 0, 5_000, "the wake-up to be acked");
    expect(queue()).toMatchObject({ unread: 0, inFlight: 0 });

    // The same with a message racing the wake-up: whichever the /pop takes, nothing is lost.
    const again = collect(c, "pops");
    await again.sub.ready;
    await waitFor(() => node.topic("pops")!.queues.default!.consumers === 1, 5_000, "the /pop");
    await again.sub.unsubscribe();
    await pushOk(node, "pops", "", '"raced"');
    await waitFor(() => node.topic("pops")!.queues.default!.consumers === 0, 5_000, "the /pop to end");
    const next = collect(c, "pops");
    await waitFor(() => next.got.length === 1, 5_000, "the message, given back");
    expect(next.got[0]!.data).toBe("raced");
    expect(next.got[0]!.deliveryCount).toBe(0);
  });

  it("a long-running consumer's memory stays flat: nothing per message is kept until the subscription ends", async () => {
    // In a child process with --expose-gc: the heap after 2,000 messages of 4 KB beside the heap
    // after 300. A pop loop that kept a reaction per /pop (each holding its delivery) until the
    // subscription ended grew by 9.5 MB here; it now grows by about 0.5 MB (allocator noise).
    const node = await startNode();
    const fixture = new URL("./fixtures/gnode-http-heap.ts", import.meta.url).pathname;
    const child = spawn(
      process.execPath,
      ["--expose-gc", "--import", "tsx", fixture, node.httpUrl, "300", "2000", "4000"],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let output = "";
    child.stdout!.on("data", (chunk) => {
      output += chunk;
    });
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code).toBe(0);
    const { before, after, consumed } = JSON.parse(output) as Record<string, number>;
    expect(consumed).toBe(2300);
    expect((after! - before!) / 1e6).toBeLessThan(3);
  }, 60_000);

  it("an idle /pop is refreshed by a wake-up body, so no client or proxy timeout abandons it", async () => {
    const node = await startNode();
    const c = client(node, { popRefreshMs: 100 });
    const { got, sub } = collect(c, "idle");
    await sub.ready;
    await waitFor(() => node.topic("idle")!.pushNum >= 3, 5_000, "three wake-ups");
    await waitFor(() => node.topic("idle")!.queues.default!.inFlight === 0, 5_000, "wake-ups acked");
    await pushOk(node, "idle", "", '"real"');
    await waitFor(() => got.length === 1, 5_000, "the message");
    expect(got.map((m) => m.data)).toEqual(["real"]);
    await waitFor(() => node.topic("idle")!.queues.default!.consumers === 1, 5_000, "the next /pop");
  });

  it("a network cut mid-pop (no wake-up possible): the node redelivers what the lost /pop took after the TTR", async () => {
    const clock = createManualClock(Date.UTC(2030, 0, 1));
    const node = await startNode({ clock, scanIntervalMs: 0 });
    const proxy = await startTcpForwarder(node.httpPort);
    try {
      const c = client(proxy.url, { topics: { cut: { msgTTR: 3 } } });
      const { got, sub } = collect(c, "cut", { ack: "manual" });
      await sub.ready;
      await waitFor(() => node.topic("cut")!.queues.default!.consumers === 1, 5_000, "the /pop");
      proxy.setOnline(false); // the /pop's connection is cut: the node keeps it, abandoned
      await pushOk(node, "cut", "", '"taken by the abandoned pop"');
      expect(node.topic("cut")!.queues.default).toMatchObject({ unread: 0, inFlight: 1 });
      clock.advance(3_000);
      node.scan();
      proxy.setOnline(true);
      await waitFor(() => got.length === 1, 10_000, "the redelivery");
      expect(got[0]!.data).toBe("taken by the abandoned pop");
      expect(got[0]!.deliveryCount).toBe(1);
      await got[0]!.ack();
      expect(node.topic("cut")!.queues.default).toMatchObject({ unread: 0, inFlight: 0 });
    } finally {
      await proxy.close();
    }
  });

  it("a node that crashed and came back (queues gone): the consumer and the publisher set up again", async () => {
    const node = await startNode();
    const c = client(node, { topics: { crash: { queues: ["w"] } } });
    const { got, sub } = collect<number>(c, "crash", { queue: "w" });
    await sub.ready;
    await c.publish("crash", 1, { routeKey: "w" });
    await waitFor(() => got.length === 1, 5_000, "before");
    await node.restart({ graceful: false });
    await waitFor(() => node.topic("crash")?.queues.w?.consumers === 1, 10_000, "the consumer back");
    expect(node.topic("crash")).toMatchObject({ mode: 1, isAutoAck: false });
    await c.publish("crash", 2, { routeKey: "w" });
    await waitFor(() => got.length === 2, 5_000, "after");
    expect(got.map((m) => m.data)).toEqual([1, 2]);
  });

  it("refuses what a real node would choke on, naming the field", async () => {
    const node = await startNode();
    const c = client(node, { topics: { fuzzy: { routing: "regex" } }, maxBodyBytes: 1024 });
    const field = async (work: () => Promise<unknown>) => {
      const e = await refused(work);
      return `${e.code}:${e.field}`;
    };
    expect(await field(() => c.publish("chat/room1", 1))).toBe("invalid_argument:topic");
    expect(await field(() => c.publish("a b", 1))).toBe("invalid_argument:topic");
    expect(await field(() => c.publish("a_b", 1))).toBe("invalid_argument:topic");
    expect(await field(() => c.publish("ok", 1, { delayMs: 259_200_001 }))).toBe("invalid_argument:delayMs");
    expect(await field(() => c.publish("ok", 1, { routeKey: "a b" }))).toBe("invalid_argument:routeKey");
    expect(await field(() => c.publish("fuzzy", 1, { routeKey: "(?=x)" }))).toBe("invalid_argument:routeKey");
    expect(await field(() => c.publish("fuzzy", 1, { routeKey: "[" }))).toBe("invalid_argument:routeKey");
    expect(await field(() => c.publish("ok", "x".repeat(2000)))).toBe("payload_too_large:payload");
    expect(await field(() => c.subscribe("ok", { queue: "a_b" }).ready)).toBe("invalid_argument:queue");
    expect(() => gnodeHttp({ url: node.httpUrl, topics: { t: { msgTTR: 61 } } })).toThrow(/msgTTR/);
    // `slashAsDot` maps MQTT-style names explicitly.
    const dots = client(node, { slashAsDot: true });
    const { got, sub } = collect(dots, "chat/room1");
    await sub.ready;
    await dots.publish("chat/room1", "hi");
    await waitFor(() => got.length === 1, 5_000, "the message");
    expect(got[0]!.topic).toBe("chat/room1");
    expect(node.topicNames()).toContain("chat.room1");
    expect(node.incidents).toEqual([]);
  });

  it("admin helpers: configure (all four settings), declare, stats", async () => {
    const node = await startNode();
    const admin = gnodeAdmin(node.httpUrl);
    await admin.configure("adm", { routing: "regex", msgTTR: 7 });
    expect(node.topic("adm")).toMatchObject({ mode: 2, isAutoAck: false, msgTTR: 7 });
    expect(await admin.declareQueue("adm", "k1")).toBe(true);
    expect(await admin.declareQueue("adm", "k1")).toBe(false);
    expect(await admin.queues("adm")).toEqual({ k1: "adm_k1" });
    const stat = await admin.topicStat("adm");
    expect(stat).toMatchObject({
      name: "adm",
      queue_num: 1,
      delay_num: 0,
      wait_ack_num: 0,
      is_auto_ack: false,
    });
    expect((await admin.allTopicStats()).map((s) => s.name)).toEqual(["adm"]);
    await admin.exitTopic("adm");
    expect(node.topic("adm")).toBeUndefined();
    expect((await refused(() => admin.topicStat("adm"))).code).toBe("remote");
  });
});
