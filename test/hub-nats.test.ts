/**
 * Two hubs on one nats-server with the NATS engine: fan-out, queue groups and calls across them,
 * history and recovery through JetStream, exactly-once through the KV high-water marks, and a
 * client moving to the other hub when its hub shuts down mid-stream, losing nothing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CloseCode, createHub, type Hub, type NatsEngineOptions, natsEngine } from "../adapters/hub/index.js";
import { type Frame, HubTestClient, sleep } from "./support/hub-client.js";
import { type NatsJetStream, natsServerBinary, startNatsJetStream } from "./support/nats-jetstream.js";

describe.skipIf(!natsServerBinary.available)("hub on NATS", () => {
  let nats: NatsJetStream;
  let run = 0;
  const hubs: Hub[] = [];
  const clients: HubTestClient[] = [];

  beforeAll(async () => {
    nats = await startNatsJetStream();
  });
  afterAll(async () => {
    await nats?.close();
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.kill();
    for (const hub of hubs.splice(0)) await hub.close();
  });

  /** Two hubs sharing a fresh prefix (their own stream, bucket and subjects). */
  const twoHubs = async (options: Omit<NatsEngineOptions, "servers"> = {}) => {
    const prefix = `t${++run}`;
    const make = async (name: string) => {
      const hub = await createHub({ name, engine: natsEngine({ servers: nats.url, prefix, ...options }) });
      hubs.push(hub);
      return hub;
    };
    return [await make("a"), await make("b")] as const;
  };
  const connect = async (hub: Hub, fields: Frame = {}) => {
    const { client, connected } = await HubTestClient.connect(hub.url, fields);
    expect(connected.type).toBe("connected");
    clients.push(client);
    return client;
  };

  it("delivers a message published on one hub to subscribers on the other", async () => {
    const [a, b] = await twoHubs();
    const sub = await connect(b);
    expect(await sub.subscribe("wild", "room/+/msg")).toMatchObject({ type: "subscribed" });
    expect(await sub.subscribe("deep", "room/#")).toMatchObject({ type: "subscribed" });
    const exact = await sub.subscribe("exact", "room/1/msg");
    expect(exact).toMatchObject({ epoch: expect.any(String), offset: expect.any(Number) });
    const pub = await connect(a);
    const ack = await pub.publish("room/1/msg", "hi", { id: "m1", headers: { k: "v" } });
    expect(ack).toMatchObject({ type: "puback", epoch: exact.epoch });
    expect(ack.offset).toBeGreaterThan(exact.offset);
    await pub.publish("room", "parent");
    await pub.publish("room/odd level.with*dots/msg", "encoded");
    const [wild] = await sub.messages("wild", 1);
    expect(wild).toMatchObject({
      topic: "room/1/msg",
      payload: "hi",
      id: "m1",
      headers: { k: "v" },
      offset: ack.offset,
    });
    expect((await sub.messages("wild", 1))[0]!.topic).toBe("room/odd level.with*dots/msg");
    expect((await sub.messages("deep", 3)).map((m) => m.topic)).toEqual([
      "room/1/msg",
      "room",
      "room/odd level.with*dots/msg",
    ]);
    expect((await sub.messages("exact", 1))[0]!.payload).toBe("hi");
  });

  it("spreads a queue group over both hubs, each message once", async () => {
    const [a, b] = await twoHubs();
    const members = [await connect(a), await connect(a), await connect(b), await connect(b)];
    for (const member of members) await member.subscribe("q", "jobs/+", { queue: "workers" });
    const pub = await connect(a);
    for (let i = 0; i < 60; i++) await pub.publish(`jobs/${i}`, String(i));
    const deadline = Date.now() + 5_000;
    const received = () => members.flatMap((m) => m.pending("q").map((f) => Number(f.payload)));
    while (received().length < 60 && Date.now() < deadline) await sleep(20);
    await sleep(100);
    expect(received().sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    const onA = members.slice(0, 2).reduce((n, m) => n + m.pending("q").length, 0);
    expect(onA).toBeGreaterThan(0);
    expect(onA).toBeLessThan(60);
  });

  it("answers a call on the other hub, and reports no_responder and timeout", async () => {
    const [a, b] = await twoHubs();
    const caller = await connect(a);
    expect(await caller.request({ type: "call", service: "Echo", method: "say" })).toMatchObject({
      code: "no_responder",
    });
    const handler = await connect(b);
    handler.socket.on("message", (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === "request" && frame.method === "say") {
        handler.send({
          type: "response",
          req: frame.req,
          payload: `echo:${frame.payload}`,
          headers: { hub: "b" },
        });
      }
    });
    expect(await handler.request({ type: "handle", service: "Echo", method: "say" })).toMatchObject({
      type: "handling",
    });
    expect(await handler.request({ type: "handle", service: "Echo", method: "mute" })).toMatchObject({
      type: "handling",
    });
    const reply = await caller.request({ type: "call", service: "Echo", method: "say", payload: "x" });
    expect(reply).toMatchObject({ type: "reply", payload: "echo:x", headers: { hub: "b" } });
    expect(
      await caller.request({ type: "call", service: "Echo", method: "mute", timeoutMs: 300 }),
    ).toMatchObject({
      code: "timeout",
    });
  });

  it("recovers 500 missed messages through JetStream on the other hub, in order, once", async () => {
    const [a, b] = await twoHubs();
    const sub = await connect(b);
    const first = await sub.subscribe("s", "feed");
    const pub = await connect(a);
    await pub.publish("feed", "before");
    const [seen] = await sub.messages("s", 1);
    sub.kill();
    for (let i = 0; i < 500; i++) pub.send({ type: "publish", topic: "feed", payload: String(i), qos: 0 });
    await pub.publish("other", "noise"); // another topic in the same stream: offsets are not contiguous
    await pub.publish("feed", "sync");
    const back = await connect(a);
    const again = await back.subscribe("s", "feed", {
      recover: { epoch: seen!.epoch, offset: seen!.offset },
    });
    expect(again).toMatchObject({ recovered: true, epoch: first.epoch });
    const replayed = await back.messages("s", 501, 20_000);
    expect(replayed.map((m) => m.payload)).toEqual([
      ...Array.from({ length: 500 }, (_, i) => String(i)),
      "sync",
    ]);
    const offsets = replayed.map((m) => m.offset);
    expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
    expect(new Set(offsets).size).toBe(501);
    expect(again.offset).toBe(offsets.at(-1));
    await pub.publish("feed", "live");
    expect((await back.messages("s", 1))[0]).toMatchObject({ payload: "live" });
    await sleep(100);
    expect(back.pending("s")).toEqual([]);
  });

  it("says recovered false when JetStream no longer keeps the position", async () => {
    const [a] = await twoHubs({ history: { maxMessages: 5 } });
    const pub = await connect(a);
    const ack = await pub.publish("t", "0");
    for (let i = 1; i <= 10; i++) await pub.publish("t", String(i));
    const sub = await connect(a);
    const lost = await sub.subscribe("s", "t", { recover: { epoch: ack.epoch, offset: ack.offset } });
    expect(lost).toMatchObject({ recovered: false, epoch: ack.epoch });
    await sleep(100);
    expect(sub.pending("s")).toEqual([]);
    const other = await sub.subscribe("e", "t", { recover: { epoch: "another-epoch", offset: 3 } });
    expect(other).toMatchObject({ recovered: false, epoch: ack.epoch, offset: lost.offset });
  });

  it("applies a (clientId, seq) once across both hubs and acknowledges it each time", async () => {
    const [a, b] = await twoHubs();
    const sub = await connect(b);
    await sub.subscribe("s", "orders");
    const onA = await connect(a, { clientId: "shop" });
    expect(await onA.publish("orders", "A", { seq: 1 })).not.toHaveProperty("duplicate");
    expect(await onA.publish("orders", "A", { seq: 1 })).toMatchObject({ duplicate: true });
    onA.kill();
    const { client: onB, connected } = await HubTestClient.connect(b.url, { clientId: "shop" });
    clients.push(onB);
    expect(connected.lastSeq).toBe(1);
    expect(await onB.publish("orders", "A", { seq: 1 })).toMatchObject({ type: "puback", duplicate: true });
    expect(await onB.publish("orders", "B", { seq: 2 })).not.toHaveProperty("duplicate");
    expect((await sub.messages("s", 2)).map((m) => m.payload)).toEqual(["A", "B"]);
    await sleep(100);
    expect(sub.pending("s")).toEqual([]);
  });

  it("a client of a hub that shuts down mid-stream re-attaches to the other with nothing lost", async () => {
    const [a, b] = await twoHubs();
    const sub = await connect(a);
    await sub.subscribe("s", "ticks");
    const pub = await connect(b);
    let sent = 0;
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        await pub.publish("ticks", String(sent++));
      }
    })();
    await sub.messages("s", 20);
    const aClosed = a.close();
    expect((await sub.closed).code).toBe(CloseCode.shutdown);
    await aClosed;
    const before = sub.frames.filter((f) => f.type === "message");
    const last = before.at(-1)!;
    // reconnect at once (4100), elsewhere, with the last position
    const moved = await connect(b);
    const again = await moved.subscribe("s", "ticks", {
      recover: { epoch: last.epoch, offset: last.offset },
    });
    expect(again.recovered).toBe(true);
    await sleep(200);
    publishing = false;
    await publisher;
    const total = sent;
    const after = await moved.messages("s", total - before.length, 20_000);
    const payloads = [...before, ...after].map((m) => Number(m.payload));
    expect(payloads).toEqual(Array.from({ length: total }, (_, i) => i));
    await sleep(100);
    expect(moved.pending("s")).toEqual([]);
  });
});
