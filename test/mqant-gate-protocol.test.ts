/**
 * The emulator's MQTT subset (spec §2, checklist items 4–14 and 20), exercised with raw bytes.
 */

import { afterEach, describe, expect, it } from "vitest";
import {
  bytesHandler,
  idleDeadlineSeconds,
  type MqantGate,
  type MqantGateOptions,
  mapHandler,
  startMqantGate,
} from "../adapters/testing/mqant/index.js";
import {
  Cleanup,
  connectPacket,
  DISCONNECT,
  hex,
  PINGREQ,
  publishPacket,
  pubrec,
  pubrel,
  RawClient,
  sleep,
  subscribePacket,
  text,
  unsubscribePacket,
} from "./mqant-gate-helpers.js";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Echo module: `Echo/HD_Len` (bytes) answers the payload length; `Echo/HD_Map` echoes the map. */
const echo = {
  Echo: {
    HD_Len: bytesHandler((_s, b) => b.length),
    HD_Map: mapHandler((_s, m) => m),
  },
};

async function gate(o: MqantGateOptions = {}): Promise<MqantGate> {
  return cleanup.add(await startMqantGate({ timeScale: 0.02, modules: echo, demo: true, ...o }));
}

async function client(g: MqantGate): Promise<RawClient> {
  return cleanup.add(await RawClient.tcp(g.tcpPort));
}

/** Proves the connection is alive and that nothing was queued before the PINGRESP. */
async function pingAndCount(c: RawClient): Promise<number> {
  const before = c.packets.length;
  c.send(PINGREQ);
  await c.waitFor((p) => p.type === 13);
  return c.packets.length - before - 1;
}

describe("CONNECT / CONNACK (items 4–6)", () => {
  it("answers a 3.1.1 CONNECT with exactly 20 02 00 00", async () => {
    const c = await client(await gate());
    const ack = await c.connect();
    expect(hex(ack.raw)).toBe("20020000");
    expect(hex(c.received)).toBe("20020000");
  });

  it("ignores the protocol name and level (MQIsdp/3 and nonsense both work)", async () => {
    const g = await gate();
    const a = await client(g);
    expect(hex((await a.connect({ protocol: "MQIsdp", level: 3 })).raw)).toBe("20020000");
    const b = await client(g);
    expect(hex((await b.connect({ protocol: "XYZW", level: 9 })).raw)).toBe("20020000");
  });

  it("ignores username, password, will and clean-session", async () => {
    const c = await client(await gate());
    const ack = await c.connect({
      username: "u",
      password: "p",
      will: { topic: "w", message: "bye" },
      clean: false,
    });
    expect(hex(ack.raw)).toBe("20020000");
  });

  it("closes silently on an empty or 65-byte client id, accepts 64 bytes", async () => {
    const g = await gate();
    for (const id of ["", "x".repeat(65)]) {
      const c = await client(g);
      c.send(connectPacket({ clientId: id }));
      await c.expectClosed();
      expect(c.received.length).toBe(0);
    }
    const ok = await client(g);
    expect(hex((await ok.connect({ clientId: "x".repeat(64) })).raw)).toBe("20020000");
  });

  it("cannot accept MQTT 5: the properties length is read as the client-id length", async () => {
    const g = await gate();
    // No properties: a 0x00 properties length makes the "client id length" 0 → immediate close.
    const a = await client(g);
    a.send(connectPacket({ level: 5, v5Properties: [0x00] }));
    await a.expectClosed(1000);
    expect(a.received.length).toBe(0);
    // With properties (session expiry): 0x05 0x11 reads as 1297; Go blocks for those bytes until
    // the CONNECT deadline (10 s × 0.02) and closes, still without a CONNACK.
    const b = await client(g);
    const sent = Date.now();
    b.send(connectPacket({ level: 5, v5Properties: [0x05, 0x11, 0, 0, 0, 10] }));
    await b.expectClosed(2000);
    // Only a lower bound, so a loaded machine cannot fail it: it waited for the deadline.
    expect(Date.now() - sent).toBeGreaterThanOrEqual(150);
    expect(b.received.length).toBe(0);
  });

  it("closes silently when the first packet is not CONNECT", async () => {
    const c = await client(await gate());
    c.send(PINGREQ);
    await c.expectClosed();
    expect(c.received.length).toBe(0);
  });

  it("closes a socket that sends no CONNECT within 10 s (scaled)", async () => {
    const c = await client(await gate({ timeScale: 0.02 })); // 200 ms
    await sleep(120);
    expect(c.isClosed).toBe(false);
    await c.expectClosed(1000);
    expect(c.received.length).toBe(0);
  });

  it("answers a second CONNECT with another CONNACK and applies its keep-alive", async () => {
    const g = await gate({ timeScale: 0.02 });
    const c = await client(g);
    await c.connect({ keepAlive: 60 }); // D = 136 s × 0.02 = 2.7 s
    c.send(connectPacket({ keepAlive: 1 })); // D = 3 s × 0.02 = 60 ms
    await c.waitFor((p) => p.type === 2);
    expect(hex(c.received)).toBe("2002000020020000");
    await c.expectClosed(500);
  });

  it("keeps the trace across a repeated CONNECT", async () => {
    const c = await client(await gate());
    await c.connect();
    const t1 = (await c.request("Echo/HD_Map/1", {})).Trace;
    c.send(connectPacket());
    await c.waitFor((p) => p.type === 2);
    const t2 = (await c.request("Echo/HD_Map/2", {})).Trace;
    expect(t2).toBe(t1);
  });
});

describe("keep-alive and idle deadline (items 7, 8)", () => {
  it("computes D exactly as the spec table", () => {
    const ks = [1, 2, 5, 10, 20, 30, 60];
    expect(ks.map((k) => idleDeadlineSeconds("v1.2.0", k))).toEqual([3, 6, 12, 24, 46, 69, 136]);
    expect(ks.map((k) => idleDeadlineSeconds("master", k))).toEqual([10, 12, 24, 48, 60, 60, 60]);
    expect(idleDeadlineSeconds("v1.2.0", 0)).toBe(136);
    expect(idleDeadlineSeconds("master", 0)).toBe(60);
  });

  it("v1.2.0 closes an idle K=2 connection after 6 s, master after 12 s (scaled ×0.04)", async () => {
    const v1 = await client(await gate({ profile: "v1.2.0", timeScale: 0.04 }));
    const ma = await client(await gate({ profile: "master", timeScale: 0.04 }));
    await Promise.all([v1.connect({ keepAlive: 2 }), ma.connect({ keepAlive: 2 })]);
    const t0 = Date.now();
    await v1.expectClosed(1000);
    const v1Ms = Date.now() - t0;
    expect(ma.isClosed).toBe(false);
    await ma.expectClosed(1000);
    const maMs = Date.now() - t0;
    expect(v1Ms).toBeGreaterThanOrEqual(230); // 240 ms
    expect(maMs).toBeGreaterThanOrEqual(470); // 480 ms
    expect(maMs - v1Ms).toBeGreaterThan(120);
  });

  it("treats keep-alive 0 as 60 (master caps D at 60 s)", async () => {
    const g = await gate({ profile: "master", timeScale: 0.005 }); // D = 60 s × 0.005 = 300 ms
    const c = await client(g);
    await c.connect({ keepAlive: 0 });
    const t0 = Date.now();
    await sleep(200);
    expect(c.isClosed).toBe(false);
    await c.expectClosed(1000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
  });

  it("only inbound packets extend D; server pushes do not", async () => {
    const g = await gate({ timeScale: 0.05 }); // K=2 → D = 300 ms
    const pinger = await client(g);
    const listener = await client(g);
    await pinger.connect({ keepAlive: 2 });
    await listener.connect({ keepAlive: 2 });
    const pushes = setInterval(() => g.broadcast("Any/OnTick", "x"), 20);
    try {
      for (let i = 0; i < 12; i++) {
        pinger.send(PINGREQ);
        await sleep(50);
      }
      expect(pinger.isClosed).toBe(false);
      expect(listener.isClosed).toBe(true);
      expect(listener.publishesOn("Any/OnTick").length).toBeGreaterThan(0);
    } finally {
      clearInterval(pushes);
    }
  });

  it("answers PINGREQ with PINGRESP d0 00 and nothing else", async () => {
    const c = await client(await gate());
    await c.connect();
    c.send(PINGREQ);
    expect(hex((await c.waitFor((p) => p.type === 13)).raw)).toBe("d000");
    expect(hex(c.received)).toBe("20020000d000");
  });
});

describe("PUBLISH QoS, SUBSCRIBE, DISCONNECT (items 9–11, 14)", () => {
  it("QoS 1: PUBACK 40 02 id first, then the reply", async () => {
    const c = await client(await gate());
    await c.connect();
    c.send(publishPacket("HelloWorld/HD_Say/1", '{"say":"a"}', { qos: 1, id: 0x1234 }));
    await c.publishOn("HelloWorld/HD_Say/1");
    expect(hex(c.packets[1]!.raw)).toBe("40021234");
    expect(c.packets[2]!.type).toBe(3);
  });

  it("QoS 2: PUBREC, the reply at once, PUBCOMP after PUBREL; no dedup", async () => {
    const c = await client(await gate());
    await c.connect();
    c.send(publishPacket("Echo/HD_Len/1", "abc", { qos: 2, id: 9 }));
    await c.publishOn("Echo/HD_Len/1");
    expect(hex(c.packets[1]!.raw)).toBe("50020009");
    // The same packet id again (a DUP retry) is dispatched again.
    c.send(publishPacket("Echo/HD_Len/1", "abc", { qos: 2, id: 9, dup: true }));
    await c.publishOn("Echo/HD_Len/1");
    c.send(pubrel(9));
    expect(hex((await c.waitFor((p) => p.type === 7)).raw)).toBe("70020009");
    expect(c.publishesOn("Echo/HD_Len/1")).toHaveLength(2);
  });

  it("answers a client PUBREC with PUBREL 62 02 id", async () => {
    const c = await client(await gate());
    await c.connect();
    c.send(pubrec(5));
    expect(hex((await c.waitFor((p) => p.type === 6)).raw)).toBe("62020005");
  });

  it("sends SUBACK 90 03 id 00 only per QoS-2 filter, UNSUBACK always", async () => {
    const c = await client(await gate());
    await c.connect();
    c.send(
      subscribePacket(3, [
        ["a", 0],
        ["b", 1],
      ]),
    );
    expect(await pingAndCount(c)).toBe(0);
    c.send(
      subscribePacket(4, [
        ["a", 2],
        ["b", 0],
        ["c", 2],
      ]),
    );
    expect(await pingAndCount(c)).toBe(2);
    expect(c.packets.filter((p) => p.type === 9).map((p) => hex(p.raw))).toEqual([
      "9003000400",
      "9003000400",
    ]);
    c.send(unsubscribePacket(5, ["a", "b"]));
    expect(hex((await c.waitFor((p) => p.type === 11)).raw)).toBe("b0020005");
  });

  it("delivers pushes whether or not the client subscribed", async () => {
    const g = await gate();
    const c = await client(g);
    await c.connect();
    c.send(subscribePacket(1, [["only/this", 2]]));
    await c.waitFor((p) => p.type === 9);
    expect(g.broadcast("Other/OnEvent", "hello")).toBe(1);
    expect(text((await c.publishOn("Other/OnEvent")).payload!)).toBe("hello");
  });

  it("consumes and ignores PUBACK, PUBCOMP, SUBACK, UNSUBACK and unknown packet types", async () => {
    const c = await client(await gate());
    await c.connect();
    c.send(Uint8Array.of(0x40, 0x02, 0, 1, 0x70, 0x02, 0, 2, 0x90, 0x03, 0, 3, 0, 0xb0, 0x02, 0, 4));
    c.send(Uint8Array.of(0x00, 0x03, 1, 2, 3, 0xf0, 0x01, 0xff, 0x20, 0x02, 0, 0));
    expect(await pingAndCount(c)).toBe(0);
    expect(c.isClosed).toBe(false);
  });

  it("closes on a malformed ack (PUBACK with remaining length 3)", async () => {
    const c = await client(await gate());
    await c.connect();
    c.send(Uint8Array.of(0x40, 0x03, 0, 1, 0));
    await c.expectClosed();
  });

  it("ignores DISCONNECT: the socket stays open and keeps working", async () => {
    const c = await client(await gate());
    await c.connect();
    c.send(DISCONNECT);
    await sleep(50);
    expect(c.isClosed).toBe(false);
    expect((await c.request("Echo/HD_Len/1", "xy")).Result).toBe(2);
  });

  it("writes every outbound PUBLISH as QoS 0 without packet id, retain or dup", async () => {
    const g = await gate();
    const c = await client(g);
    await c.connect();
    c.send(publishPacket("Echo/HD_Len/1", "abcd", { qos: 2, id: 1, retain: true, dup: true }));
    g.broadcast("X/OnY", "zz");
    await c.publishOn("Echo/HD_Len/1");
    await c.publishOn("X/OnY");
    const pubs = c.packets.filter((p) => p.type === 3);
    expect(pubs.map((p) => p.first)).toEqual([0x30, 0x30]);
    // 30 <rl> 00 05 "X/OnY" "zz": no packet id between topic and payload.
    expect(hex(pubs.find((p) => p.topic === "X/OnY")!.raw)).toBe(
      `3009${"0005"}${hex(Buffer.from("X/OnYzz"))}`,
    );
  });
});

describe("size limits and short payloads (items 12, 13)", () => {
  it("closes silently on a remaining length above 65535 and accepts exactly 65535", async () => {
    const g = await gate();
    const topic = "Echo/HD_Len/1";
    const fits = 65535 - 2 - topic.length;
    const ok = await client(g);
    await ok.connect();
    ok.send(publishPacket(topic, new Uint8Array(fits).fill(65)));
    expect((await ok.publishOn(topic)).payload).toBeDefined();
    const big = await client(g);
    await big.connect();
    big.send(publishPacket(topic, new Uint8Array(fits + 1).fill(65)));
    await big.expectClosed();
    expect(big.publishesOn(topic)).toHaveLength(0);
  });

  it("honours the maxPackSize option", async () => {
    const c = await client(await gate({ maxPackSize: 100 }));
    await c.connect();
    c.send(publishPacket("Echo/HD_Len/1", new Uint8Array(87))); // 2 + 13 + 87 = 102
    await c.expectClosed();
  });

  it("v1.2.0: a QoS-0 payload under 2 bytes closes the socket", async () => {
    const g = await gate({ profile: "v1.2.0" });
    for (const payload of ["", "x"]) {
      const c = await client(g);
      await c.connect();
      c.send(publishPacket("Echo/HD_Len/1", payload));
      await c.expectClosed();
      expect(c.packets).toHaveLength(1);
    }
  });

  it("v1.2.0: an empty QoS-1/2 payload gets PUBACK/PUBREC but no reply", async () => {
    const c = await client(await gate({ profile: "v1.2.0" }));
    await c.connect();
    c.send(publishPacket("Echo/HD_Len/1", "", { qos: 1, id: 1 }));
    c.send(publishPacket("Echo/HD_Len/2", "", { qos: 2, id: 2 }));
    await sleep(50);
    c.send(PINGREQ);
    await c.waitFor((p) => p.type === 13);
    expect(c.packets.slice(1).map((p) => p.type)).toEqual([4, 5, 13]);
  });

  it("master: empty payloads are forwarded as bytes at every QoS", async () => {
    const c = await client(await gate({ profile: "master" }));
    await c.connect();
    expect((await c.request("Echo/HD_Len/1", "", 0)).Result).toBe(0);
    expect((await c.request("Echo/HD_Len/2", "x", 0)).Result).toBe(1);
    expect((await c.request("Echo/HD_Len/3", "", 1)).Result).toBe(0);
  });

  it("closes on an empty topic in both profiles", async () => {
    for (const profile of ["v1.2.0", "master"] as const) {
      const c = await client(await gate({ profile }));
      await c.connect();
      c.send(publishPacket("", "{}"));
      await c.expectClosed();
    }
  });
});
