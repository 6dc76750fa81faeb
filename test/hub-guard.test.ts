/**
 * What keeps a hub alive among misbehaving clients: heartbeats, authentication and
 * authorisation, token expiry and refresh, slow consumers, frame size and rate limits, hostile
 * frames, and a clean shutdown. Each case checks the documented error or close code, and that
 * the hub keeps serving a well-behaved client.
 */
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { CloseCode, createHub, type Hub, type HubOptions } from "../adapters/hub/index.js";
import { type Frame, HubTestClient, sleep } from "./support/hub-client.js";

const hubs: Hub[] = [];
const clients: HubTestClient[] = [];
const start = async (options: HubOptions = {}) => {
  const hub = await createHub(options);
  hubs.push(hub);
  return hub;
};
const open = async (hub: Hub, protocols?: string[]) => {
  const client = await HubTestClient.open(hub.url, protocols);
  clients.push(client);
  return client;
};
const connect = async (hub: Hub, fields: Frame = {}) => {
  const { client, connected } = await HubTestClient.connect(hub.url, fields);
  clients.push(client);
  return { client, connected };
};
/** A well-behaved client still gets its own messages through the hub. */
const stillServes = async (hub: Hub) => {
  const { client } = await connect(hub);
  await client.subscribe("probe", "probe/topic");
  await client.publish("probe/topic", "alive");
  expect((await client.messages("probe", 1))[0]!.payload).toBe("alive");
};
afterEach(async () => {
  for (const client of clients.splice(0)) client.kill();
  for (const hub of hubs.splice(0)) await hub.close();
});

describe("hub heartbeats", () => {
  it("closes a client that never answers pings with 4200, and keeps one that does", async () => {
    const hub = await start({ heartbeat: { intervalMs: 100, graceMs: 100 } });
    const { client: mute, connected } = await connect(hub);
    expect(connected).toMatchObject({ pingIntervalMs: 100, pingGraceMs: 100 });
    mute.answerPings = false;
    const { client: polite } = await connect(hub);
    expect((await mute.closed).code).toBe(CloseCode.heartbeatTimeout);
    await sleep(300);
    expect(polite.frames.filter((f) => f.type === "ping").length).toBeGreaterThan(2);
    expect(polite.socket.readyState).toBe(WebSocket.OPEN);
    expect(await polite.publish("x", "y")).toMatchObject({ type: "puback" });
  });

  it("answers a client's ping with pong", async () => {
    const hub = await start();
    const { client } = await connect(hub);
    client.send({ type: "ping" });
    expect(await client.next((f) => f.type === "pong")).toEqual({ type: "pong" });
  });
});

describe("hub authentication and authorisation", () => {
  const tokens: Record<string, { userId: string; ttlMs?: number }> = {
    alice: { userId: "alice" },
    "alice-short": { userId: "alice", ttlMs: 300 },
    "alice-long": { userId: "alice", ttlMs: 60_000 },
    "alice-expired": { userId: "alice", ttlMs: -1 },
    bob: { userId: "bob" },
  };
  const options: HubOptions = {
    authenticate: ({ token }) => {
      if (token === "throws") throw new Error("hook failure");
      const known = token === undefined ? undefined : tokens[token];
      if (!known) return false;
      return known.ttlMs === undefined
        ? { userId: known.userId }
        : { userId: known.userId, expiresAt: Date.now() + known.ttlMs };
    },
    authorize: (identity, request) => {
      if (request.action === "publish") return !request.topic.startsWith("secret/");
      if (request.action === "subscribe")
        return !request.pattern.startsWith("secret") || identity.userId === "bob";
      if (request.action === "call" || request.action === "handle") return request.service !== "Admin";
      return false;
    },
  };

  it("closes with 4001 for a refused, missing or throwing token", async () => {
    const hub = await start(options);
    for (const fields of [{ token: "nobody" }, {}, { token: "throws" }]) {
      const { client } = await connect(hub, fields);
      expect((await client.closed).code).toBe(CloseCode.unauthenticated);
    }
    await stillServes(await start());
  });

  it("closes with 4001 when the first frame is not connect (a skip-auth attempt)", async () => {
    const hub = await start(options);
    for (const frame of [
      { type: "subscribe", rid: 1, sub: "s", pattern: "#" },
      { type: "publish", rid: 1, topic: "a", payload: "x", userId: "alice" },
      { type: "connected", v: 1 },
    ]) {
      const client = await open(hub);
      client.send(frame);
      expect((await client.closed).code).toBe(CloseCode.unauthenticated);
      expect(client.frames.filter((f) => f.type === "message" || f.type === "subscribed")).toEqual([]);
    }
  });

  it("accepts a good token and reports the user", async () => {
    const hub = await start(options);
    const { connected } = await connect(hub, { token: "alice" });
    expect(connected).toMatchObject({ type: "connected", userId: "alice" });
    expect(connected.expiresAt).toBeUndefined();
  });

  it("closes with 4101 when the token has expired, at connect or later", async () => {
    const hub = await start(options);
    const { client: late } = await connect(hub, { token: "alice-expired" });
    expect((await late.closed).code).toBe(CloseCode.tokenExpired);
    const { client, connected } = await connect(hub, { token: "alice-short" });
    expect(connected.expiresAt).toBeGreaterThan(Date.now());
    expect((await client.closed).code).toBe(CloseCode.tokenExpired);
  });

  it("refreshes a token in band, without reconnecting", async () => {
    const hub = await start(options);
    const { client } = await connect(hub, { token: "alice-short" });
    const refreshed = await client.request({ type: "refresh", token: "alice-long" });
    expect(refreshed).toMatchObject({ type: "refreshed" });
    expect(refreshed.expiresAt).toBeGreaterThan(Date.now() + 30_000);
    expect(await client.request({ type: "refresh", token: "bob" })).toMatchObject({
      type: "error",
      code: "forbidden",
    });
    expect(await client.request({ type: "refresh", token: "nobody" })).toMatchObject({
      type: "error",
      code: "unauthenticated",
    });
    await sleep(500); // past the first token's expiry
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    expect(await client.publish("ok", "x")).toMatchObject({ type: "puback" });
  });

  it("answers forbidden for what authorize refuses, and keeps the connection", async () => {
    const hub = await start(options);
    const { client } = await connect(hub, { token: "alice" });
    expect(await client.subscribe("s", "secret/#")).toMatchObject({ type: "error", code: "forbidden" });
    expect(await client.publish("secret/x", "leak")).toMatchObject({ type: "error", code: "forbidden" });
    expect(await client.request({ type: "call", service: "Admin", method: "drop" })).toMatchObject({
      code: "forbidden",
    });
    expect(await client.request({ type: "handle", service: "Admin", method: "drop" })).toMatchObject({
      code: "forbidden",
    });
    // the refused subscription id is free again, and allowed things work
    expect(await client.subscribe("s", "public/#")).toMatchObject({ type: "subscribed" });
    const { client: bob } = await connect(hub, { token: "bob" });
    expect(await bob.subscribe("s", "secret/#")).toMatchObject({ type: "subscribed" });
  });
});

describe("hub limits", () => {
  it("closes a slow consumer with 4201 and keeps serving the others", async () => {
    const hub = await start({
      limits: {
        socketBufferBytes: 64 * 1024,
        maxQueuedBytes: 1024 * 1024,
        slowConsumerMs: 1_000,
        ratePerSecond: 100_000,
        rateBurst: 100_000,
      },
    });
    const { client: slow } = await connect(hub);
    await slow.subscribe("s", "flood");
    const { client: fast } = await connect(hub);
    await fast.subscribe("s", "flood");
    const socketOf = (client: HubTestClient) =>
      (client.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socketOf(slow).pause(); // reads nothing: the kernel buffers fill, then the hub's queue
    const { client: pub } = await connect(hub);
    // 12 MB, far more than loopback socket buffers hold; paced by pubacks so the fast reader keeps up
    const payload = "x".repeat(4096);
    for (let i = 0; i < 3000 && hub.connections === 3; i++) await pub.publish("flood", payload);
    const deadline = Date.now() + 10_000;
    while (hub.connections > 2 && Date.now() < deadline) await sleep(20);
    expect(hub.connections).toBe(2);
    expect(await pub.publish("flood", "last")).toMatchObject({ type: "puback" });
    const got = fast.pending("s");
    expect(got.length).toBeGreaterThan(100);
    expect((await fast.next((f) => f.type === "message" && f.payload === "last")).payload).toBe("last");
    socketOf(slow).resume();
    expect((await slow.closed).code).toBe(CloseCode.slowConsumer);
  });

  it("closes with 1009 on a frame over maxFrameBytes", async () => {
    const hub = await start({ limits: { maxFrameBytes: 1024 } });
    const { client, connected } = await connect(hub);
    expect(connected.maxFrameBytes).toBe(1024);
    client.send({ type: "publish", rid: 1, topic: "t", payload: "x".repeat(2000) });
    expect((await client.closed).code).toBe(CloseCode.frameTooBig);
    await stillServes(hub);
  });

  it("answers busy beyond the rate, then closes with 4202 a client that keeps going", async () => {
    const hub = await start({ limits: { ratePerSecond: 5, rateBurst: 5 } });
    const { client } = await connect(hub);
    for (let i = 1; i <= 10; i++) client.send({ type: "publish", rid: i, topic: "t", payload: "x" });
    for (let i = 1; i <= 5; i++)
      expect(await client.next((f) => f.rid === i)).toMatchObject({ type: "puback" });
    for (let i = 6; i <= 10; i++) {
      expect(await client.next((f) => f.rid === i)).toMatchObject({
        type: "error",
        code: "busy",
        reason: "rate_limited",
      });
    }
    for (let i = 11; i <= 30; i++) client.send({ type: "publish", rid: i, topic: "t", payload: "x" });
    expect((await client.closed).code).toBe(CloseCode.rateLimited);
    await stillServes(hub);
  });

  it("closes with 4203 a connection that never sends connect", async () => {
    const hub = await start({ limits: { connectTimeoutMs: 200 } });
    const client = await open(hub);
    expect((await client.closed).code).toBe(CloseCode.connectTimeout);
  });

  it("refuses more subscriptions than maxSubscriptions with busy", async () => {
    const hub = await start({ limits: { maxSubscriptions: 2 } });
    const { client } = await connect(hub);
    await client.subscribe("a", "a");
    await client.subscribe("b", "b");
    expect(await client.subscribe("c", "c")).toMatchObject({
      code: "busy",
      reason: "too_many_subscriptions",
    });
  });
});

describe("hub hostile frames", () => {
  it("closes with 4000 on malformed JSON or a non-object frame", async () => {
    const hub = await start();
    for (const text of ["{not json", "[1,2,3]", '"a string"', "null", '{"no":"type"}']) {
      const { client } = await connect(hub);
      client.send(text);
      expect((await client.closed).code).toBe(CloseCode.protocolError);
    }
    await stillServes(hub);
  });

  it("answers unsupported for an unknown type and invalid_argument for a bad field, and stays open", async () => {
    const hub = await start();
    const { client } = await connect(hub);
    expect(await client.request({ type: "teleport" })).toMatchObject({ type: "error", code: "unsupported" });
    expect(await client.request({ type: "subscribe", sub: "s", pattern: "a/#/b" })).toMatchObject({
      code: "invalid_argument",
      field: "pattern",
    });
    expect(await client.request({ type: "publish", topic: "a/+", payload: "x" })).toMatchObject({
      code: "invalid_argument",
      field: "topic",
    });
    expect(await client.request({ type: "publish", topic: "t", headers: { n: 1 } })).toMatchObject({
      code: "invalid_argument",
      field: "headers.n",
    });
    expect(await client.request({ type: "call", service: "", method: "m" })).toMatchObject({
      field: "service",
    });
    client.send({ type: "subscribe", sub: "s", pattern: "t" }); // no rid: nowhere to answer
    expect(await client.next((f) => f.type === "error" && f.field === "rid")).toMatchObject({
      code: "invalid_argument",
    });
    client.send({ type: "ack", tag: 999 }); // an unknown tag is ignored
    client.send({ type: "connect" });
    expect((await client.closed).code).toBe(CloseCode.protocolError); // connect twice
    await stillServes(hub);
  });

  it("closes with 1003 on a binary frame", async () => {
    const hub = await start();
    const { client } = await connect(hub);
    client.socket.send(Buffer.from([1, 2, 3]));
    expect((await client.closed).code).toBe(CloseCode.unsupportedData);
    await stillServes(hub);
  });

  it("closes with 4002 a client that does not speak gmq.v1.json", async () => {
    const hub = await start();
    const client = await open(hub, []);
    expect(await client.closed).toEqual({
      code: CloseCode.unsupportedProtocol,
      reason: "supported subprotocols: gmq.v1.json",
    });
    await stillServes(hub);
  });

  it("a response for a request it was never sent changes nothing", async () => {
    const hub = await start();
    const { client } = await connect(hub);
    client.send({ type: "response", req: "42", payload: "forged" });
    client.send({ type: "nack", tag: 1 });
    await stillServes(hub);
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
  });
});

describe("hub shutdown", () => {
  it("closes every client with 4100 so it reconnects elsewhere at once", async () => {
    const hub = await start();
    const { client: a } = await connect(hub);
    const { client: b } = await connect(hub);
    await a.subscribe("s", "x");
    await hub.close();
    expect((await a.closed).code).toBe(CloseCode.shutdown);
    expect((await b.closed).code).toBe(CloseCode.shutdown);
    await expect(HubTestClient.open(hub.url)).rejects.toThrow();
  });
});
