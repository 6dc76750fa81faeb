/**
 * gmq/gnode (TCP) against the gnode emulator: mpub batches, delays, route keys, TTR redelivery
 * and dead-letter reads, channels, heartbeats, streams cut mid-frame or split byte by byte,
 * restarts and names. Every node must end with no incident (nothing a real node would die of).
 */
import { Buffer } from "node:buffer";
import fc from "fast-check";
import {
  type Client,
  createClient,
  type GmqError,
  type Message,
  type OutboundMessage,
  type Transport,
} from "gmq";
import { waitFor } from "gmq/contract";
import { type GnodeOptions, gnode } from "gmq/gnode";
import { createManualClock, type GnodeEmulator } from "gmq/testing";
import { afterEach, describe, expect, it } from "vitest";
import { frameDecoder } from "../adapters/gnode/frames.js";
import { pushOk, sleep, startNode } from "./support/gnode-wire.js";
import { startTcpForwarder, type TcpForwarder } from "./support/tcp-forwarder.js";

const clients: Client[] = [];
const proxies: TcpForwarder[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

const nodeOf = (node: GnodeEmulator, tcpPort = node.tcpPort) => ({
  tcp: `127.0.0.1:${tcpPort}`,
  http: node.httpUrl,
});

function client(transport: Transport): Client {
  const c = createClient({ transport, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
  c.on("error", () => {});
  clients.push(c);
  return c;
}
const tcpClient = (node: GnodeEmulator, options: Partial<GnodeOptions> = {}, tcpPort?: number) =>
  client(gnode({ nodes: nodeOf(node, tcpPort), ...options }));

async function proxied(node: GnodeEmulator): Promise<TcpForwarder> {
  const proxy = await startTcpForwarder(node.tcpPort);
  proxies.push(proxy);
  return proxy;
}

function collect<T = unknown>(c: Client, topic: string, options: Parameters<Client["subscribe"]>[2] = {}) {
  const got: Message<T>[] = [];
  const sub = c.subscribe<T>(topic, (m) => void got.push(m), options as never);
  return { got, sub };
}

const message = (topic: string, i: number, extra: Partial<OutboundMessage> = {}): OutboundMessage => ({
  topic,
  id: `m${i}`,
  payload: new TextEncoder().encode(JSON.stringify(i)),
  qos: 1,
  ...extra,
});

describe("gmq/gnode (TCP)", () => {
  it("publishes, pops and acks with exact 64-bit ids; the outbox sends 1,000 queued messages as one mpub", async () => {
    const node = await startNode();
    const proxy = await proxied(node);
    const transport = gnode({ nodes: nodeOf(node, proxy.port) });
    const batches: number[] = [];
    const batch = transport.publishBatch!.bind(transport);
    transport.publishBatch = (messages, options) => {
      batches.push(messages.length);
      return batch(messages, options);
    };
    const sender = client(transport);
    await sender.publish("bulk", -1);
    proxy.setOnline(false);
    await waitFor(() => sender.state !== "connected", 5_000, "offline");
    const queued = await Promise.all(Array.from({ length: 1000 }, (_, i) => sender.publish("bulk", i)));
    expect(queued.every((r) => r.status === "queued")).toBe(true);
    proxy.setOnline(true);
    await waitFor(() => sender.outboxStats().count === 0, 10_000, "the flush");
    expect(batches).toContain(1000);
    // On the wire: the outbox's runs as `mpub`s (the first publish alone, then one of 1,000).
    expect(proxy.lines.filter((line) => line.startsWith("mpub bulk "))).toEqual([
      "mpub bulk 1",
      "mpub bulk 1000",
    ]);
    expect(proxy.lines.filter((line) => line.startsWith("pub bulk "))).toEqual([]);
    expect(node.topic("bulk")!.queues.default!.unread).toBe(1001);

    const receiver = tcpClient(node);
    const got: Message<number>[] = [];
    const sub = receiver.subscribe<number>(
      "bulk",
      (m) => {
        got.push(m);
        return m.ack();
      },
      { ack: "manual", maxBuffered: 200 },
    );
    await sub.ready;
    await waitFor(() => got.length === 1001, 15_000, "1001 messages");
    expect(got.map((m) => m.data)).toEqual([-1, ...Array.from({ length: 1000 }, (_, i) => i)]);
    for (const m of got) expect(BigInt(m.headers["gnode-id"]!) > 2n ** 53n).toBe(true);
    await sleep(100);
    expect(node.topic("bulk")!.queues.default).toMatchObject({ unread: 0, inFlight: 0 });
  });

  it("mpub results per message: those before a route key with no queue are in, that one is refused, the rest retried", async () => {
    const node = await startNode();
    const transport = gnode({ nodes: nodeOf(node), topics: { fan: { routing: "regex", queues: ["a"] } } });
    const c = client(transport);
    await c.connect();
    const results = await transport.publishBatch!(
      [
        message("fan", 0, { routeKey: "^a$" }),
        message("fan", 1, { routeKey: "^a$" }),
        message("fan", 2, { routeKey: "^zzz$" }),
        message("fan", 3, { routeKey: "^a$" }),
        message("fan", 4, { delayMs: 259_201_000 }),
      ],
      { signal: new AbortController().signal },
    );
    expect(results.slice(0, 2)).toEqual([undefined, undefined]);
    expect((results[2] as GmqError).code).toBe("no_responder");
    expect((results[3] as GmqError).code).toBe("disconnected");
    expect((results[4] as GmqError).field).toBe("delayMs");
    expect(node.topic("fan")!.queues.a!.unread).toBe(2);
    await waitFor(() => c.state === "connected", 5_000, "the reconnect after the desync");
  });

  it("delays, regex fan-out, TTR redelivery with retry counts, then the dead letters read through `dead/`", async () => {
    const clock = createManualClock(Date.UTC(2030, 0, 1));
    const node = await startNode({ clock, scanIntervalMs: 0 });
    const c = tcpClient(node, {
      topics: { jobs: { routing: "regex", msgTTR: 2, msgRetry: 1 } },
      deadPollMs: 50,
    });
    const a = collect<string>(c, "jobs", { queue: "jobs.a", ack: "manual" });
    const b = collect<string>(c, "jobs", { queue: "jobs.b", ack: "manual" });
    const deadA = collect<string>(c, "dead/jobs", { queue: "jobs.a" });
    await Promise.all([a.sub.ready, b.sub.ready, deadA.sub.ready]);
    await c.publish("jobs", "later", { routeKey: "^jobs\\.", delayMs: 3000 });
    expect(node.topic("jobs")!.delayed).toBe(1);
    clock.advance(3000);
    node.scan();
    await waitFor(() => a.got.length === 1 && b.got.length === 1, 5_000, "both copies");
    await b.got[0]!.ack();
    await a.got[0]!.nack({ requeue: true }); // a failure: the node redelivers after the TTR
    clock.advance(2000); // back with retry_count 1
    node.scan();
    await waitFor(() => a.got.length === 2, 5_000, "the redelivery");
    expect(a.got[1]!.deliveryCount).toBe(1);
    expect(a.got[1]!.redelivered).toBe(true);
    // The core forgets the id on nack, so the next redelivery reaches the app again.
    await a.got[1]!.nack({ requeue: true });
    clock.advance(2000); // over msgRetry: to the dead-letter queue
    node.scan();
    await waitFor(() => deadA.got.length === 1, 5_000, "the dead letter");
    expect(deadA.got[0]!.data).toBe("later");
    expect(deadA.got[0]!.deliveryCount).toBe(2);
    expect(deadA.got[0]!.id).toBe(a.got[0]!.id);
    expect(node.topic("jobs")!.deadQueues["jobs.a"]!.unread).toBe(0);
    expect(node.topic("jobs")!.queues["jobs.b"]!.inFlight).toBe(0);
  });

  it("channels: every subscriber (on its own socket) gets a publish; nobody listening is not an error", async () => {
    const node = await startNode();
    const c1 = tcpClient(node);
    const c2 = tcpClient(node);
    expect((await c1.publish("channel/news", "to nobody")).status).toBe("sent");
    const one = collect(c1, "channel/news");
    const two = collect(c2, "channel/news");
    await Promise.all([one.sub.ready, two.sub.ready]);
    expect(node.channels()).toEqual({ news: 2 });
    const sent = await c1.publish("channel/news", { headline: 1 }, { headers: { h: "v" } });
    await c1.publish("channel/news", new Uint8Array([0, 255]));
    await waitFor(() => one.got.length === 2 && two.got.length === 2, 5_000, "both");
    expect(one.got[0]!.data).toEqual({ headline: 1 });
    expect(two.got[0]!.id).toBe(sent.id);
    expect(two.got[0]!.headers.h).toBe("v");
    expect(Array.from(one.got[1]!.payload)).toEqual([0, 255]);
    expect(one.got[0]!.topic).toBe("channel/news");
  });

  it("a popping socket that hears no heartbeat is declared dead and the stream restarts", async () => {
    const node = await startNode({ heartbeatMs: 100 });
    const proxy = await proxied(node);
    const c = tcpClient(node, { heartbeatTimeoutMs: 400 }, proxy.port);
    const { got, sub } = collect(c, "beats");
    const errors: (GmqError | undefined)[] = [];
    sub.on("state", (change) => change.to === "subscribing" && errors.push(change.error));
    await sub.ready;
    await sleep(900); // heartbeats keep a blocked pop alive
    expect(errors).toEqual([]);
    proxy.hold(true); // the node goes silent
    await waitFor(() => errors.length > 0, 5_000, "the dead pop");
    expect(errors[0]!.reason).toBe("HEARTBEAT_LOST");
    proxy.hold(false);
    await waitFor(() => sub.state === "subscribed", 5_000, "the restart");
    // Until the node has seen the dead pop's connection close, that pop still waits there and
    // would take the next message (spec §7.1 #9): push once only the new pop is left (the command
    // socket and the new pop's are the node's only connections).
    await waitFor(
      () => node.tcpConnections() === 2 && node.topic("beats")!.queues.default!.consumers === 1,
      5_000,
      "only the new pop at the node",
    );
    await pushOk(node, "beats", "", '"after"');
    await waitFor(() => got.length === 1, 5_000, "a message after");
  });

  it("a stream cut mid-frame: the pop and the pub are retried, nothing is lost or delivered twice", async () => {
    const clock = createManualClock(Date.UTC(2030, 0, 1));
    const node = await startNode({ clock, scanIntervalMs: 0 });
    const proxy = await proxied(node);
    const c = tcpClient(node, { topics: { cut: { msgTTR: 2 } } }, proxy.port);
    const { got, sub } = collect<string>(c, "cut", { ack: "manual", maxBuffered: 1 });
    const restarts: string[] = [];
    sub.on("state", (change) => restarts.push(change.to));
    await sub.ready;
    await waitFor(() => node.topic("cut")!.queues.default!.consumers === 1, 5_000, "the pop");
    proxy.cutAfter(10); // the next bytes from the node: 10 of the pop's 101 frame
    await pushOk(node, "cut", "", '"cut short"');
    await waitFor(() => restarts.includes("subscribing"), 5_000, "the broken stream");
    await waitFor(() => sub.state === "subscribed", 5_000, "the restart");
    expect(got).toHaveLength(0);
    clock.advance(2000); // the delivery that never arrived comes back after the TTR
    node.scan();
    await waitFor(() => got.length === 1, 5_000, "the redelivery");
    expect(got[0]!.data).toBe("cut short");
    expect(got[0]!.deliveryCount).toBe(1);

    // Held unacked (no credit, no pop under way): the next bytes are a pub's 103 reply, cut. The
    // publish is uncertain, so it is sent again; the receiver drops the second copy by its id.
    proxy.cutAfter(3);
    await c.publish("cut", "twice on the wire"); // `queued`: the link broke under it
    await waitFor(() => c.outboxStats().count === 0, 5_000, "the publish sent again");
    expect(node.topic("cut")!.queues.default!.unread).toBe(2);
    await got[0]!.ack();
    await waitFor(() => got.length === 2, 5_000, "the publish");
    await got[1]!.ack(); // room for the second copy: popped, dropped as a duplicate, acked
    await waitFor(() => node.topic("cut")!.queues.default!.unread === 0, 5_000, "both copies popped");
    await sleep(200);
    expect(got.map((m) => m.data)).toEqual(["cut short", "twice on the wire"]);
    expect(node.topic("cut")!.queues.default).toMatchObject({ unread: 0, inFlight: 0 });
  });

  it("frames split byte by byte still parse", async () => {
    const node = await startNode();
    const proxy = await proxied(node);
    proxy.split(true);
    const c = tcpClient(node, {}, proxy.port);
    const { got, sub } = collect<number>(c, "split");
    await sub.ready;
    await Promise.all(Array.from({ length: 20 }, (_, i) => c.publish("split", i)));
    await waitFor(() => got.length === 20, 10_000, "20 messages");
    expect(got.map((m) => m.data)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("the frame decoder gives the same frames however the bytes are chunked", () => {
    const frame = fc.record({
      type: fc.integer({ min: 101, max: 105 }),
      payload: fc.uint8Array({ maxLength: 40 }),
    });
    fc.assert(
      fc.property(
        fc.array(frame, { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 50 })),
        (frames, cuts) => {
          const wire = Buffer.concat(
            frames.map(({ type, payload }) => {
              const head = Buffer.alloc(6);
              head.writeUInt16BE(type, 0);
              head.writeUInt32BE(payload.length, 2);
              return Buffer.concat([head, payload]);
            }),
          );
          const out: { type: number; payload: number[] }[] = [];
          const decode = frameDecoder((type, payload) => out.push({ type, payload: [...payload] }));
          let at = 0;
          for (const size of [...cuts, wire.length]) {
            decode(wire.subarray(at, at + size));
            at = Math.min(wire.length, at + size);
          }
          expect(out).toEqual(frames.map(({ type, payload }) => ({ type, payload: [...payload] })));
        },
      ),
    );
  });

  it("a node restart (graceful or crash): reconnects, sets topics up again, and carries on", async () => {
    const node = await startNode();
    const c = tcpClient(node, { topics: { r: { queues: ["w"], msgTTR: 9 } } });
    const { got, sub } = collect<number>(c, "r", { queue: "w" });
    await sub.ready;
    await c.publish("r", 1, { routeKey: "w" });
    await waitFor(() => got.length === 1, 5_000, "before");
    for (const graceful of [true, false]) {
      await node.restart({ graceful });
      await waitFor(() => node.topic("r")?.queues.w?.consumers === 1, 10_000, "the consumer back");
      expect(node.topic("r")).toMatchObject({ mode: 1, isAutoAck: false, msgTTR: 9 });
      await c.publish("r", got.length + 1, { routeKey: "w" });
      await waitFor(() => got.length === (graceful ? 2 : 3), 5_000, "after");
    }
    expect(got.map((m) => m.data)).toEqual([1, 2, 3]);
  });

  it("refuses, before the wire, what would crash or hang a real node", async () => {
    const node = await startNode();
    const c = tcpClient(node, { maxBodyBytes: 2048, topics: { fuzzy: { routing: "regex" } } });
    await c.connect();
    const field = async (work: () => Promise<unknown>) => {
      const e = await work().then(
        () => undefined,
        (error: unknown) => error as GmqError,
      );
      return `${e?.code}:${e?.field}`;
    };
    expect(await field(() => c.publish("a b", 1))).toBe("invalid_argument:topic");
    expect(await field(() => c.publish("a/b", 1))).toBe("invalid_argument:topic");
    expect(await field(() => c.publish("channel/a b", 1))).toBe("invalid_argument:topic");
    expect(await field(() => c.publish("dead/x", 1))).toBe("invalid_argument:topic");
    expect(await field(() => c.publish("ok", 1, { delayMs: 259_201_000 }))).toBe("invalid_argument:delayMs");
    expect(await field(() => c.publish("ok", "x".repeat(4000)))).toBe("payload_too_large:payload");
    expect(await field(() => c.publish("ok", 1, { routeKey: "x y" }))).toBe("invalid_argument:routeKey");
    expect(await field(() => c.publish("fuzzy", 1, { routeKey: "a\nb" }))).toBe("invalid_argument:routeKey");
    expect(await field(() => c.subscribe("ok", { queue: "a b" }).ready)).toBe("invalid_argument:queue");
    expect(() => gnode({ nodes: { tcp: "nowhere", http: node.httpUrl } })).toThrow(/nodes\.0\.tcp/);
    // A regex route key with a space travels as \x20 (a line cannot hold one).
    await c.subscribe("fuzzy", { queue: "k" }).ready;
    const e = await c.publish("fuzzy", 1, { routeKey: "^k$| x" }).catch((error: unknown) => error);
    expect(e).toMatchObject({ status: "sent" });
    expect(node.incidents).toEqual([]);
    expect(c.state).toBe("connected");
  });
});
