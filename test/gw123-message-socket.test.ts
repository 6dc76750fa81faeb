/**
 * startGw123MessageSocket(): the legacy `/message` WebSocket (spec §4 and §6.3), with raw `ws`.
 */

import { type Gw123MessageSocket, type PublishedEvent, startGw123MessageSocket } from "gmq/testing";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";

let server: Gw123MessageSocket | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await server?.close();
  server = undefined;
});

async function start() {
  server = await startGw123MessageSocket();
  return server;
}

interface Client {
  ws: WebSocket;
  /** Frames received, as text, with whether they were binary. */
  frames: Array<{ text: string; binary: boolean }>;
  closed: Promise<{ code: number; reason: string }>;
  next(): Promise<string>;
}

async function open(
  s: Gw123MessageSocket,
  moduleName: string,
  origin = "http://localhost:8080",
): Promise<Client> {
  const ws = new WebSocket(`${s.url}?moduleName=${encodeURIComponent(moduleName)}`, { origin });
  sockets.push(ws);
  const frames: Client["frames"] = [];
  const waiters: Array<(text: string) => void> = [];
  ws.on("message", (data, binary) => {
    const text = data.toString();
    frames.push({ text, binary });
    waiters.shift()?.(text);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  let seen = 0;
  return {
    ws,
    frames,
    closed,
    next: () =>
      new Promise<string>((resolve) => {
        const index = seen++;
        if (frames[index]) resolve(frames[index]!.text);
        else waiters.push(resolve);
      }),
  };
}

/** The status of a handshake the server refused. */
function refusedStatus(
  url: string,
  options: ConstructorParameters<typeof WebSocket>[2] = {},
  protocols?: string[],
) {
  return new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    ws.on("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on("open", () => reject(new Error("handshake accepted")));
    ws.on("error", () => {});
  });
}

const SERVER_FRAME =
  /^\{"MsgId":"\d+:\d+:\d+:\d+","EventName":"([a-z_]+)","SourcModuleName":"","DstModuleName":"","Payload":"(.*)"\}$/;

describe("handshake", () => {
  it("refuses a missing or null Origin with 403, and a plain GET with the 500 envelope", async () => {
    const s = await start();
    expect(await refusedStatus(`${s.url}?moduleName=a`)).toBe(403);
    expect(await refusedStatus(`${s.url}?moduleName=a`, { origin: "null" })).toBe(403);
    const plain = await fetch(s.url.replace("ws://", "http://"));
    expect(plain.status).toBe(500);
    expect(await plain.text()).toBe('{"code":1,"msg":"非法请求","data":null}\n');
  });

  it("accepts at most one offered subprotocol", async () => {
    const s = await start();
    expect(await refusedStatus(s.url, { origin: "http://a" }, ["mqtt", "json"])).toBe(400);
    const ws = new WebSocket(s.url, ["json"], { origin: "http://a" });
    sockets.push(ws);
    await new Promise((resolve) => ws.once("open", resolve));
    expect(ws.protocol).toBe("json");
  });
});

describe("frames", () => {
  it("answers auth with auth_reply carrying a decimal token, as a text frame with five keys", async () => {
    const s = await start();
    const c = await open(s, "viewModule");
    c.ws.send(JSON.stringify({ EventName: "auth", SourcModuleName: "viewModule" }));
    const reply = await c.next();
    const match = SERVER_FRAME.exec(reply);
    expect(match?.[1]).toBe("auth_reply");
    expect(match?.[2]).toMatch(/^\d{1,20}$/);
    expect(BigInt(match![2]!) < 2n ** 64n).toBe(true);
    expect(c.frames[0]!.binary).toBe(false);
    expect(s.published).toEqual([]);
  });

  it("publishes every other frame and sends nothing back, to anyone", async () => {
    const s = await start();
    const seen: PublishedEvent[] = [];
    s.onPublish((event) => seen.push(event));
    const a = await open(s, "a");
    const b = await open(s, "b");
    a.ws.send(
      JSON.stringify({
        MsgId: "1",
        EventName: "chat",
        Payload: "hi",
        Token: "t",
        DstModuleName: "b",
        Extra: 5,
      }),
    );
    a.ws.send(JSON.stringify({ eventname: "stopModule", PAYLOAD: "b" }));
    a.ws.send(Buffer.from(JSON.stringify({ EventName: "binary", Payload: "ok" })), { binary: true });
    a.ws.send("null");
    a.ws.send(JSON.stringify({ EventName: "", Payload: "nameless" }));
    a.ws.send(JSON.stringify({ EventName: "nulls", Payload: null }));
    // Each socket's first frame is the reply to its auth: nothing was echoed or broadcast before it.
    a.ws.send(JSON.stringify({ EventName: "auth" }));
    b.ws.send(JSON.stringify({ EventName: "auth" }));
    expect(SERVER_FRAME.exec(await a.next())?.[1]).toBe("auth_reply");
    expect(SERVER_FRAME.exec(await b.next())?.[1]).toBe("auth_reply");
    expect(s.published).toEqual([
      {
        moduleName: "a",
        eventName: "chat",
        payload: "hi",
        msgId: "1",
        sourceModuleName: "",
        dstModuleName: "b",
        token: "t",
      },
      {
        moduleName: "a",
        eventName: "stopModule",
        payload: "b",
        msgId: "",
        sourceModuleName: "",
        dstModuleName: "",
        token: "",
      },
      {
        moduleName: "a",
        eventName: "binary",
        payload: "ok",
        msgId: "",
        sourceModuleName: "",
        dstModuleName: "",
        token: "",
      },
      {
        moduleName: "a",
        eventName: "nulls",
        payload: "",
        msgId: "",
        sourceModuleName: "",
        dstModuleName: "",
        token: "",
      },
    ]);
    expect(seen).toEqual(s.published);
    expect(a.frames).toHaveLength(1);
    expect(b.frames).toHaveLength(1);
  });

  for (const [what, frame] of [
    ["invalid JSON", "{nope"],
    ["a non-object", "[1,2]"],
    ["a numeric Payload", '{"EventName":"x","Payload":5}'],
    ["an object EventName", '{"EventName":{}}'],
    [
      "a message longer than the 1 MiB read buffer",
      JSON.stringify({ EventName: "x", Payload: "a".repeat(1024 * 1024) }),
    ],
  ] as const) {
    it(`drops the connection without a close frame on ${what}`, async () => {
      const s = await start();
      const c = await open(s, "m");
      c.ws.send(frame);
      expect((await c.closed).code).toBe(1006);
      expect(s.published).toEqual([]);
      expect(c.frames).toEqual([]);
    });
  }
});

describe("one slot per moduleName", () => {
  it("sends the old socket stop, then closes it normally; the new one works", async () => {
    const s = await start();
    const old = await open(s, "viewModule");
    const other = await open(s, "otherModule");
    const fresh = await open(s, "viewModule");
    const stop = SERVER_FRAME.exec(await old.next());
    expect([stop?.[1], stop?.[2]]).toEqual(["stop", "新的同名模块连接到来"]);
    expect((await old.closed).code).toBe(1000);
    fresh.ws.send(JSON.stringify({ EventName: "auth" }));
    expect(SERVER_FRAME.exec(await fresh.next())?.[1]).toBe("auth_reply");
    expect(other.frames).toEqual([]);
    expect(s.moduleNames().sort()).toEqual(["otherModule", "viewModule"]);
  });
});
