/**
 * The WebSocket listener (spec §2.1; checklist items 1–3) and the other profile differences.
 */

import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  bytesHandler,
  type MqantGate,
  type MqantGateOptions,
  type MqantProfile,
  mapHandler,
  startMqantGate,
} from "../adapters/testing/mqant/index.js";
import { Cleanup, connectPacket, publishPacket, RawClient, rawUpgrade, text } from "./mqant-gate-helpers.js";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const modules = {
  Big: {
    HD_Get: bytesHandler((_s, b) => "x".repeat(Number(text(b)))),
    HD_UA: mapHandler((s) => s.settings),
  },
};

async function gate(o: MqantGateOptions = {}): Promise<MqantGate> {
  return cleanup.add(await startMqantGate({ timeScale: 0.05, modules, demo: true, ...o }));
}

/** Try a `ws` client handshake; resolve with the negotiated protocol or the rejection message. */
function handshake(url: string, protocols?: string | string[]): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols);
    ws.once("open", () => {
      resolve({ ok: true, detail: ws.protocol });
      ws.terminate();
    });
    ws.once("error", (err) => resolve({ ok: false, detail: err.message }));
  });
}

function protocolHeader(head: string): string | undefined {
  const line = head.split("\r\n").find((l) => l.toLowerCase().startsWith("sec-websocket-protocol:"));
  return line?.slice("sec-websocket-protocol:".length).trim();
}

describe("WebSocket listener (items 1–3)", () => {
  it("accepts any path and ignores Origin", async () => {
    const g = await gate();
    for (const path of ["/mqtt", "/mqant", "/", "/any/thing?x=1"]) {
      const c = cleanup.add(
        await RawClient.ws(`ws://127.0.0.1:${g.wsPort}${path}`, "mqtt", {
          headers: { Origin: "http://evil.example" },
        }),
      );
      expect((await c.connect()).type).toBe(2);
    }
  });

  it("limits the upgrade request's headers to about 5 KiB (Go's 1 KiB + 4 KiB slack)", async () => {
    const g = await gate();
    const ok = await rawUpgrade(g.wsPort, "/mqtt", {
      "Sec-WebSocket-Protocol": "mqtt",
      "X-Pad": "p".repeat(3000),
    });
    expect(ok).toMatch(/^HTTP\/1\.1 101/);
    const big = await rawUpgrade(g.wsPort, "/mqtt", {
      "Sec-WebSocket-Protocol": "mqtt",
      "X-Pad": "p".repeat(6000),
    });
    expect(big).toMatch(/^HTTP\/1\.1 431/);
  });

  it("never negotiates permessage-deflate", async () => {
    const g = await gate();
    const head = await rawUpgrade(g.wsPort, "/mqtt", {
      "Sec-WebSocket-Protocol": "mqtt",
      "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
    });
    expect(head).toMatch(/^HTTP\/1\.1 101/);
    expect(head.toLowerCase()).not.toContain("sec-websocket-extensions");
  });

  const table: Array<[string | undefined, string, string]> = [
    ["mqtt", "mqtt", "mqtt"],
    ["mqttv3.1", "mqttv3.1", "mqttv3.1"],
    ["mqtt, mqttv3.1", "mqtt, mqttv3.1", "mqtt"],
    ["mqtt,mqttv3.1", "mqtt,mqttv3.1", "mqtt"],
    [" mqttv3.1 ,mqtt", "mqttv3.1 ,mqtt", "mqttv3.1 "],
    [undefined, "", ""],
  ];

  it.each(["v1.2.0", "master"] as const)("echoes Sec-WebSocket-Protocol by the %s rule", async (profile) => {
    const g = await gate({ profile });
    for (const [offered, v1, master] of table) {
      const head = await rawUpgrade(
        g.wsPort,
        "/mqtt",
        offered === undefined ? {} : { "Sec-WebSocket-Protocol": offered },
      );
      expect(head).toMatch(/^HTTP\/1\.1 101/);
      const want = profile === "v1.2.0" ? v1 : master;
      // The header is always there, even with an empty value.
      expect(head).toContain(`Sec-WebSocket-Protocol: ${want}`);
      if (want === "mqttv3.1 ") expect(`${head}\r\n`).toContain("Sec-WebSocket-Protocol: mqttv3.1 \r\n");
      expect(protocolHeader(head)).toBe(want.trim());
    }
  });

  it("makes Node ws accept or reject the handshake exactly as the spec's outcome column", async () => {
    const outcomes = async (profile: MqantProfile) => {
      const g = await gate({ profile });
      return {
        one: await handshake(g.wsUrl, "mqtt"),
        other: await handshake(g.wsUrl, "mqttv3.1"),
        two: await handshake(g.wsUrl, ["mqtt", "mqttv3.1"]),
        none: await handshake(g.wsUrl),
      };
    };
    const v1 = await outcomes("v1.2.0");
    const ma = await outcomes("master");
    expect(v1.one).toEqual({ ok: true, detail: "mqtt" });
    expect(v1.other).toEqual({ ok: true, detail: "mqttv3.1" });
    expect(v1.two.ok).toBe(false);
    expect(v1.none).toEqual({ ok: false, detail: "Server sent a subprotocol but none was requested" });
    expect(ma.one.ok && ma.other.ok).toBe(true);
    expect(ma.two).toEqual({ ok: true, detail: "mqtt" });
    expect(ma.none.ok).toBe(false);
  });

  it("reads text and binary frames as one byte stream, whatever the frame boundaries", async () => {
    const g = await gate();
    const c = cleanup.add(await RawClient.ws(g.wsUrl, "mqtt"));
    const connect = connectPacket({ clientId: "frames" });
    const req = publishPacket("HelloWorld/HD_Say/1", '{"say":"split"}');
    // CONNECT split over a text and a binary frame; its tail shares a frame with half the PUBLISH.
    c.sendText(connect.subarray(0, 5));
    const joined = new Uint8Array([...connect.subarray(5), ...req.subarray(0, 9)]);
    c.send(joined);
    c.sendText(req.subarray(9));
    await c.waitFor((p) => p.type === 2);
    expect(JSON.parse(text((await c.publishOn("HelloWorld/HD_Say/1")).payload!)).Result).toBe(
      "you say : split",
    );
  });

  it("writes binary frames, cutting a large packet at the gate's 2 KiB buffer", async () => {
    const g = await gate();
    const c = cleanup.add(await RawClient.ws(g.wsUrl, "mqtt"));
    await c.connect();
    c.send(publishPacket("Big/HD_Get/1", "5000"));
    const p = await c.publishOn("Big/HD_Get/1");
    const total = p.raw.length;
    expect(JSON.parse(text(p.payload!)).Result).toHaveLength(5000);
    expect(c.frames.every((f) => f.binary)).toBe(true);
    // CONNACK in one frame, then the reply as 2048 bytes + the rest.
    expect(c.frames.map((f) => f.size)).toEqual([4, 2048, total - 2048]);
  });

  it("splits and coalesces frames at random with fragmentFrames, and the stream still parses", async () => {
    // Real-time deadlines: 30 large replies under a loaded machine must not meet a scaled-down RPC timeout.
    const g = await gate({ fragmentFrames: true, timeScale: 1 });
    const c = cleanup.add(await RawClient.ws(g.wsUrl, "mqtt"));
    await c.connect();
    // In waves of 10, well inside the gate's 20 worker slots per connection (more at once may be
    // refused with "the work queue is full!" when the machine is slow to answer).
    for (let wave = 0; wave < 3; wave++) {
      const ids = Array.from({ length: 10 }, (_, k) => wave * 10 + k + 1);
      for (const i of ids) c.send(publishPacket(`Big/HD_Get/${i}`, String(i * 100)));
      for (const i of ids) {
        const reply = JSON.parse(text((await c.publishOn(`Big/HD_Get/${i}`)).payload!));
        expect(reply.Error).toBe("");
        expect(reply.Result).toHaveLength(i * 100);
      }
    }
    const packetBytes = c.packets.reduce((n, p) => n + p.raw.length, 0);
    expect(c.frames.reduce((n, f) => n + f.size, 0)).toBe(packetBytes);
    expect(c.frames.every((f) => f.binary)).toBe(true);
    // Random cuts: frame and packet boundaries do not line up one to one. (Counting frames is
    // not enough: splits and coalesces can cancel out to the same number.)
    const ends = (sizes: number[]) => {
      let offset = 0;
      return sizes.map((size) => (offset += size));
    };
    const packetEnds = ends(c.packets.map((p) => p.raw.length));
    const frameEnds = ends(c.frames.map((f) => f.size));
    expect(frameEnds).not.toEqual(packetEnds);
  });

  it("works end to end with mqtt.js over WebSocket (3.1 and 3.1.1, QoS 1)", async () => {
    // Real-time deadlines: 30 large replies under a loaded machine must not meet a scaled-down RPC timeout.
    const g = await gate({ fragmentFrames: true, timeScale: 1 });
    for (const opts of [
      { protocolVersion: 4 as const },
      { protocolVersion: 3 as const, protocolId: "MQIsdp" as const },
    ]) {
      const client = await mqtt.connectAsync(g.wsUrl, { ...opts, reconnectPeriod: 0, keepalive: 30 });
      cleanup.add({ close: () => client.endAsync(true) });
      const got = new Promise<string>((r) => client.on("message", (_t, p) => r(p.toString())));
      await client.publishAsync("HelloWorld/HD_Say/1", JSON.stringify({ say: "hi" }), { qos: 1 });
      expect(JSON.parse(await got)).toMatchObject({ Error: "", Result: "you say : hi" });
    }
  });
});

describe("WebSocket control frames and lifecycle", () => {
  it("answers pings with pongs", async () => {
    const g = await gate();
    const ws = new WebSocket(g.wsUrl, "mqtt");
    cleanup.add({ close: () => ws.terminate() });
    await new Promise((r) => ws.once("open", r));
    const pong = new Promise<string>((r) => ws.once("pong", (d: Buffer) => r(d.toString())));
    ws.ping("are you there");
    expect(await pong).toBe("are you there");
  });

  it("closes both listeners and every client on close / asyncDispose", async () => {
    const g = await startMqantGate({ timeScale: 0.05 });
    const tcp = await RawClient.tcp(g.tcpPort);
    await tcp.connect();
    const ws = await RawClient.ws(g.wsUrl, "mqtt");
    await ws.connect();
    await g[Symbol.asyncDispose]();
    await Promise.all([tcp.expectClosed(), ws.expectClosed()]);
    await expect(RawClient.tcp(g.tcpPort)).rejects.toThrow();
    expect(await handshake(g.wsUrl, "mqtt")).toMatchObject({ ok: false });
    await g.close(); // idempotent
  });
});

describe("User-Agent (profile difference)", () => {
  it("copies the WS User-Agent into the session on master only", async () => {
    const settings = async (profile: MqantProfile) => {
      const g = await gate({ profile });
      const c = cleanup.add(await RawClient.ws(g.wsUrl, "mqtt", { headers: { "User-Agent": "probe/1.0" } }));
      await c.connect();
      return (await c.request("Big/HD_UA/1", {})).Result;
    };
    expect(await settings("master")).toEqual({ "User-Agent": "probe/1.0" });
    expect(await settings("v1.2.0")).toEqual({});
  });
});
