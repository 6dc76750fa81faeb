/**
 * Positions that survive a reconnect, and publishing exactly once across reconnects, on the
 * in-memory engine.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createHub, type Hub, memoryEngine } from "../adapters/hub/index.js";
import { type Frame, HubTestClient, sleep } from "./support/hub-client.js";

const hubs: Hub[] = [];
const clients: HubTestClient[] = [];
const start = async (options: Parameters<typeof createHub>[0] = {}) => {
  const hub = await createHub(options);
  hubs.push(hub);
  return hub;
};
const connect = async (hub: Hub, fields: Frame = {}) => {
  const { client, connected } = await HubTestClient.connect(hub.url, fields);
  clients.push(client);
  return { client, connected };
};
afterEach(async () => {
  for (const client of clients.splice(0)) client.kill();
  for (const hub of hubs.splice(0)) await hub.close();
});

describe("hub recovery", () => {
  it("a subscriber away while 500 messages are published gets all 500 on resubscribe, in order, once", async () => {
    const hub = await start();
    const { client: sub } = await connect(hub);
    const subscribed = await sub.subscribe("s", "feed/live");
    expect(subscribed).toMatchObject({ epoch: expect.any(String), offset: 0 });
    const { client: pub } = await connect(hub);
    await pub.publish("feed/live", "before");
    const [seen] = await sub.messages("s", 1);
    const position = { epoch: seen!.epoch, offset: seen!.offset };
    sub.kill();

    for (let i = 0; i < 500; i++)
      pub.send({ type: "publish", topic: "feed/live", payload: String(i), qos: 0 });
    await pub.publish("feed/live", "sync"); // in order: once acked, all 500 are stored
    const { client: back } = await connect(hub);
    const again = await back.subscribe("s", "feed/live", { recover: position });
    expect(again).toMatchObject({ type: "subscribed", recovered: true, epoch: position.epoch, offset: 502 });
    const replayed = await back.messages("s", 501);
    expect(replayed.map((m) => m.payload)).toEqual([
      ...Array.from({ length: 500 }, (_, i) => String(i)),
      "sync",
    ]);
    expect(replayed.map((m) => m.offset)).toEqual(Array.from({ length: 501 }, (_, i) => i + 2));
    // live messages continue after the replay, and nothing comes twice
    await pub.publish("feed/live", "live");
    expect((await back.messages("s", 1))[0]).toMatchObject({ payload: "live", offset: 503 });
    await sleep(50);
    expect(back.pending("s")).toEqual([]);
  });

  it("recovered true with nothing to replay when nothing was missed", async () => {
    const hub = await start();
    const { client } = await connect(hub);
    const first = await client.subscribe("a", "quiet");
    await client.request({ type: "unsubscribe", sub: "a" });
    const again = await client.subscribe("b", "quiet", {
      recover: { epoch: first.epoch, offset: first.offset },
    });
    expect(again).toMatchObject({ recovered: true, offset: first.offset });
  });

  it("recovered false (and the current position) when the position is older than the kept history", async () => {
    const hub = await start({ engine: memoryEngine({ history: { maxMessages: 10 } }) });
    const { client: pub } = await connect(hub);
    const { connected } = await connect(hub);
    expect(connected.history).toEqual({ maxMessages: 10, maxAgeMs: 600_000 });
    const ack = await pub.publish("t", "0");
    for (let i = 1; i <= 20; i++) await pub.publish("t", String(i));
    const { client: sub } = await connect(hub);
    const result = await sub.subscribe("s", "t", { recover: { epoch: ack.epoch, offset: ack.offset } });
    expect(result).toMatchObject({ recovered: false, epoch: ack.epoch, offset: 21 });
    await sleep(50);
    expect(sub.pending("s")).toEqual([]); // no partial replay: the client knows it must resync
    // a position inside the kept ten recovers
    const inside = await sub.subscribe("s2", "t", { recover: { epoch: ack.epoch, offset: 15 } });
    expect(inside).toMatchObject({ recovered: true, offset: 21 });
    expect((await sub.messages("s2", 6)).map((m) => m.payload)).toEqual(["15", "16", "17", "18", "19", "20"]);
  });

  it("recovered false after messages aged out", async () => {
    const hub = await start({ engine: memoryEngine({ history: { maxAgeMs: 100 } }) });
    const { client } = await connect(hub);
    const ack = await client.publish("aging", "old");
    await client.publish("aging", "also old");
    await sleep(150);
    const result = await client.subscribe("s", "aging", {
      recover: { epoch: ack.epoch, offset: ack.offset },
    });
    expect(result).toMatchObject({ recovered: false, offset: 2 });
  });

  it("recovered false when the hub lost its history (a new epoch)", async () => {
    const engine = memoryEngine();
    const hub = await start({ engine });
    const { client } = await connect(hub);
    const ack = await client.publish("t", "x");
    engine.forgetHistory();
    const result = await client.subscribe("s", "t", { recover: { epoch: ack.epoch, offset: ack.offset } });
    expect(result.recovered).toBe(false);
    expect(result.epoch).not.toBe(ack.epoch);
    expect(result.offset).toBe(0);
  });

  it("refuses recover on wildcard and queue subscriptions with unsupported", async () => {
    const hub = await start();
    const { client } = await connect(hub);
    const recover = { epoch: "e", offset: 1 };
    for (const options of [{ recover }, { recover, queue: "q" }]) {
      const pattern = "queue" in options ? "exact" : "a/+";
      expect(await client.subscribe(`s-${pattern}`, pattern, options)).toMatchObject({
        type: "error",
        code: "unsupported",
        field: "recover",
      });
    }
  });
});

describe("hub exactly-once publishing", () => {
  it("applies the same (clientId, seq) once and acknowledges it every time, across a reconnect", async () => {
    const hub = await start();
    const { client: sub } = await connect(hub);
    await sub.subscribe("s", "orders");
    const { client: pub, connected } = await connect(hub, { clientId: "shop-1" });
    expect(connected.lastSeq).toBe(0);
    const first = await pub.publish("orders", "A", { seq: 1 });
    expect(first).toMatchObject({ type: "puback", offset: 1 });
    expect(first.duplicate).toBeUndefined();
    expect(await pub.publish("orders", "A", { seq: 1 })).toMatchObject({ type: "puback", duplicate: true });
    expect(await pub.publish("orders", "B", { seq: 2 })).toMatchObject({ type: "puback", offset: 2 });
    pub.kill();

    // the outbox resends everything it has no puback for, after reconnecting
    const { client: again, connected: resumed } = await connect(hub, { clientId: "shop-1" });
    expect(resumed.lastSeq).toBe(2);
    expect(await again.publish("orders", "B", { seq: 2 })).toMatchObject({ duplicate: true });
    expect(await again.publish("orders", "C", { seq: 3 })).toMatchObject({ offset: 3 });
    const got = await sub.messages("s", 3);
    expect(got.map((m) => m.payload)).toEqual(["A", "B", "C"]);
    await sleep(50);
    expect(sub.pending("s")).toEqual([]);
  });

  it("keeps high-water marks per client id, and needs one for seq", async () => {
    const hub = await start();
    const { client: a } = await connect(hub, { clientId: "a" });
    const { client: b } = await connect(hub, { clientId: "b" });
    expect(await a.publish("t", "x", { seq: 5 })).not.toHaveProperty("duplicate");
    expect(await b.publish("t", "x", { seq: 5 })).not.toHaveProperty("duplicate");
    expect(await a.publish("t", "x", { seq: 4 })).toMatchObject({ duplicate: true });
    // a publish may name the outbox it comes from
    expect(await b.publish("t", "x", { seq: 5, clientId: "a" })).toMatchObject({ duplicate: true });
    expect(await b.publish("t", "x", { seq: 6, clientId: "a" })).not.toHaveProperty("duplicate");
    const { connected } = await connect(hub, { clientId: "a" });
    expect(connected.lastSeq).toBe(6);
    const { client: anonymous } = await connect(hub);
    expect(await anonymous.publish("t", "x", { seq: 1 })).toMatchObject({
      type: "error",
      code: "invalid_argument",
      field: "seq",
    });
  });
});
