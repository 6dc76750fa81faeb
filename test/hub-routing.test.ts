/**
 * The hub with its in-memory engine: routing with wildcards, queue groups, calls and
 * no-responder, manual ack and redelivery.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { createHub, type Hub } from "../adapters/hub/index.js";
import { type Frame, HubTestClient, sleep } from "./support/hub-client.js";

let hub: Hub;
const clients: HubTestClient[] = [];
const connect = async (fields: Frame = {}) => {
  const { client, connected } = await HubTestClient.connect(hub.url, fields);
  expect(connected.type).toBe("connected");
  clients.push(client);
  return client;
};

beforeEach(async () => {
  hub = await createHub();
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.kill();
  await hub.close();
});

describe("hub routing", () => {
  it("announces its limits and the client's high-water mark on connect", async () => {
    const { client, connected } = await HubTestClient.connect(hub.url, {
      clientId: "c1",
      client: { name: "t" },
    });
    clients.push(client);
    expect(connected).toMatchObject({
      type: "connected",
      v: 1,
      clientId: "c1",
      lastSeq: 0,
      pingIntervalMs: 25_000,
      pingGraceMs: 10_000,
      maxFrameBytes: 1024 * 1024,
      history: { maxMessages: 1000, maxAgeMs: 600_000 },
    });
    expect(typeof connected.session).toBe("string");
  });

  it("routes by + and # wildcards, once per matching subscription", async () => {
    const sub = await connect();
    const pub = await connect();
    expect(await sub.subscribe("plus", "chat/+/text")).toMatchObject({ type: "subscribed", sub: "plus" });
    expect(await sub.subscribe("hash", "chat/#")).toMatchObject({ type: "subscribed" });
    expect(await sub.subscribe("exact", "chat/room1/text")).toMatchObject({
      epoch: expect.any(String),
      offset: 0,
    });
    const ack = await pub.publish("chat/room1/text", "hello", { id: "m1", headers: { a: "b" } });
    expect(ack).toMatchObject({ type: "puback", offset: 1, epoch: expect.any(String) });
    await pub.publish("chat/room2/other", "not for plus");
    await pub.publish("chat", "parent level matches #");
    await pub.publish("news/x", "matches nothing");
    const [plus] = await sub.messages("plus", 1);
    expect(plus).toMatchObject({
      topic: "chat/room1/text",
      payload: "hello",
      id: "m1",
      headers: { a: "b" },
      offset: 1,
    });
    const hash = await sub.messages("hash", 3);
    expect(hash.map((m) => m.topic)).toEqual(["chat/room1/text", "chat/room2/other", "chat"]);
    expect((await sub.messages("exact", 1))[0]!.payload).toBe("hello");
    await sleep(50);
    expect(sub.pending("plus")).toEqual([]);
    expect(sub.frames.some((f) => f.topic === "news/x")).toBe(false);
  });

  it("carries binary payloads as base64 and rejects bad base64", async () => {
    const sub = await connect();
    await sub.subscribe("s", "bin");
    const bytes = Buffer.from([0, 255, 1, 254]).toString("base64");
    expect(await sub.publish("bin", bytes, { enc: "b64" })).toMatchObject({ type: "puback" });
    const [message] = await sub.messages("s", 1);
    expect(message).toMatchObject({ payload: bytes, enc: "b64" });
    expect(await sub.publish("bin", "not base64!", { enc: "b64" })).toMatchObject({
      type: "error",
      code: "invalid_argument",
      field: "payload",
    });
  });

  it("does not let # or + match $ topics, like MQTT", async () => {
    const sub = await connect();
    await sub.subscribe("all", "#");
    await sub.subscribe("sys", "$sys/+");
    await sub.publish("$sys/load", "1");
    await sub.publish("app/x", "2");
    expect((await sub.messages("sys", 1))[0]!.topic).toBe("$sys/load");
    expect((await sub.messages("all", 1))[0]!.topic).toBe("app/x");
    await sleep(50);
    expect(sub.pending("all")).toEqual([]);
  });

  it("stops delivering after unsubscribe", async () => {
    const sub = await connect();
    await sub.subscribe("s", "t/#");
    expect(await sub.request({ type: "unsubscribe", sub: "s" })).toMatchObject({
      type: "unsubscribed",
      sub: "s",
    });
    await sub.publish("t/1", "x");
    await sleep(50);
    expect(sub.pending("s")).toEqual([]);
  });

  it("spreads a queue group: each message to exactly one member", async () => {
    const members = await Promise.all([connect(), connect(), connect()]);
    for (const member of members) await member.subscribe("q", "jobs/+", { queue: "workers" });
    const other = await connect();
    await other.subscribe("all", "jobs/+");
    const pub = await connect();
    for (let i = 0; i < 30; i++)
      pub.send({ type: "publish", topic: `jobs/${i}`, payload: String(i), qos: 0 });
    await other.messages("all", 30);
    await sleep(100);
    const got = members.map((m) => m.pending("q").map((f) => Number(f.payload)));
    expect(got.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    for (const share of got) expect(share.length).toBeGreaterThan(0);
  });

  it("routes a call to a handler, round robin, and relays remote errors", async () => {
    const handlers = [await connect(), await connect()];
    for (const handler of handlers) {
      expect(await handler.request({ type: "handle", service: "Math", method: "add" })).toMatchObject({
        type: "handling",
      });
    }
    const served: number[] = [];
    handlers.forEach((handler, index) => {
      handler.socket.on("message", (data) => {
        const frame = JSON.parse(data.toString());
        if (frame.type !== "request") return;
        served.push(index);
        const { a, b } = JSON.parse(frame.payload);
        if (a < 0)
          handler.send({
            type: "response",
            req: frame.req,
            error: { code: "BAD_INPUT", message: "negative" },
          });
        else
          handler.send({
            type: "response",
            req: frame.req,
            payload: JSON.stringify(a + b),
            headers: { by: `${index}` },
          });
      });
    });
    const caller = await connect();
    for (let i = 0; i < 4; i++) {
      const reply = await caller.request({
        type: "call",
        service: "Math",
        method: "add",
        payload: `{"a":${i},"b":2}`,
      });
      expect(reply).toMatchObject({ type: "reply", payload: String(i + 2) });
    }
    expect(served.sort()).toEqual([0, 0, 1, 1]);
    const failed = await caller.request({
      type: "call",
      service: "Math",
      method: "add",
      payload: `{"a":-1,"b":0}`,
    });
    expect(failed).toMatchObject({ type: "error", code: "remote", reason: "BAD_INPUT", message: "negative" });
  });

  it("answers no_responder without a handler, timeout past the deadline, and remote when the handler leaves", async () => {
    const caller = await connect();
    expect(await caller.request({ type: "call", service: "Nobody", method: "home" })).toMatchObject({
      type: "error",
      code: "no_responder",
    });
    const silent = await connect();
    await silent.request({ type: "handle", service: "Slow", method: "never" });
    const started = Date.now();
    expect(
      await caller.request({ type: "call", service: "Slow", method: "never", timeoutMs: 200 }),
    ).toMatchObject({
      type: "error",
      code: "timeout",
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    const pending = caller.request({ type: "call", service: "Slow", method: "never", timeoutMs: 5_000 });
    await silent.next((f) => f.type === "request" && f.timeoutMs <= 5_000);
    silent.kill();
    expect(await pending).toMatchObject({ type: "error", code: "remote", reason: "handler_disconnected" });
    await sleep(50);
    expect(await caller.request({ type: "call", service: "Slow", method: "never" })).toMatchObject({
      code: "no_responder",
    });
  });

  it("manual ack: holds maxInFlight, redelivers on nack, and to another member when one leaves", async () => {
    const a = await connect();
    const b = await connect();
    await a.subscribe("q", "work", { queue: "g", ack: "manual", maxInFlight: 2 });
    const pub = await connect();
    for (let i = 1; i <= 3; i++) await pub.publish("work", String(i));
    const first = await a.messages("q", 2);
    expect(first.map((m) => m.payload)).toEqual(["1", "2"]);
    await sleep(50);
    expect(a.pending("q")).toEqual([]); // the third waits for room
    a.send({ type: "ack", tag: first[0]!.tag });
    const [third] = await a.messages("q", 1);
    expect(third).toMatchObject({ payload: "3" });
    // nack with requeue: the only member gets it again, marked redelivered
    a.send({ type: "nack", tag: first[1]!.tag, requeue: true });
    const [again] = await a.messages("q", 1);
    expect(again).toMatchObject({ payload: "2", redelivered: true });
    expect(again!.tag).not.toBe(first[1]!.tag);
    // a second member joins, the first leaves with two unacked: both go to the second
    await b.subscribe("q", "work", { queue: "g", ack: "manual" });
    a.kill();
    const moved = await b.messages("q", 2);
    expect(moved.map((m) => m.payload).sort()).toEqual(["2", "3"]);
    expect(moved.every((m) => m.redelivered === true)).toBe(true);
    // nack without requeue drops it
    b.send({ type: "nack", tag: moved[0]!.tag, requeue: false });
    b.send({ type: "ack", tag: moved[1]!.tag });
    await sleep(50);
    expect(b.pending("q")).toEqual([]);
  });

  it("manual ack on a plain subscription redelivers a nacked message to it", async () => {
    const sub = await connect();
    await sub.subscribe("s", "inbox", { ack: "manual" });
    await sub.publish("inbox", "x");
    const [first] = await sub.messages("s", 1);
    sub.send({ type: "nack", tag: first!.tag });
    const [second] = await sub.messages("s", 1);
    expect(second).toMatchObject({ payload: "x", redelivered: true });
    sub.send({ type: "ack", tag: second!.tag });
    sub.send({ type: "ack", tag: second!.tag }); // acking twice is harmless
    await sleep(50);
    expect(sub.pending("s")).toEqual([]);
  });

  it("manual ack: one ack frame settles several tags; a bad tags field is refused", async () => {
    const sub = await connect();
    await sub.subscribe("s", "many", { ack: "manual", maxInFlight: 3 });
    for (let i = 1; i <= 5; i++) await sub.publish("many", String(i));
    const first = await sub.messages("s", 3);
    await sleep(50);
    expect(sub.pending("s")).toEqual([]); // 4 and 5 wait for room
    sub.send({ type: "ack", tags: first.map((m) => m.tag) });
    const rest = await sub.messages("s", 2);
    expect(rest.map((m) => m.payload)).toEqual(["4", "5"]);
    sub.send({ type: "ack", tag: rest[0]!.tag, tags: [rest[1]!.tag, 999] });
    sub.send({ type: "ack", rid: 7, tags: [1, "x"] });
    expect(await sub.next((f) => f.type === "error")).toMatchObject({
      rid: 7,
      code: "invalid_argument",
      field: "tags",
    });
    // tag and tags together settled both: all three in-flight places are free again
    for (let i = 6; i <= 8; i++) await sub.publish("many", String(i));
    expect((await sub.messages("s", 3)).map((m) => m.payload)).toEqual(["6", "7", "8"]);
  });

  it("attaches to an existing http.Server, leaving its other routes and upgrade paths alone", async () => {
    const server = createServer((_req, res) => res.end("app page"));
    const other = new WebSocketServer({ noServer: true });
    server.on("upgrade", (req, socket, head) => {
      if (req.url === "/other") other.handleUpgrade(req, socket, head, (ws) => ws.send("other ws"));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const attached = await createHub({ server, path: "/realtime" });
    try {
      expect(attached.url).toBe(`ws://127.0.0.1:${port}/realtime`);
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("app page");
      const { client, connected } = await HubTestClient.connect(attached.url);
      clients.push(client);
      expect(connected.type).toBe("connected");
      const plain = new WebSocket(`ws://127.0.0.1:${port}/other`);
      const greeting = await new Promise<string>((resolve) =>
        plain.once("message", (data) => resolve(String(data))),
      );
      expect(greeting).toBe("other ws");
      plain.close();
      await attached.close();
      expect((await client.closed).code).toBe(4100);
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("app page"); // the server stays up
    } finally {
      await attached.close();
      other.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
