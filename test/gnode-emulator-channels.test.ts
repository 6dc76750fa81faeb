/**
 * gnode emulator, pub/sub channels (spec §4; checklist §7.1 #15): subscribe and publish texts,
 * binary-safe unnamed 104 frames to every subscriber (the publisher too), removal with the last
 * subscriber, and `timeout.` while a subscriber is backed up.
 */

import { describe, expect, it } from "vitest";
import { CHANNEL, item, RawTcp, RESULT, sleep, startNode } from "./support/gnode-wire.js";

describe("subscribe and publish (#15)", () => {
  it("checks parameters, fatally", async () => {
    const node = await startNode();
    for (const [line, text] of [
      ["subscribe a b\n", "E_INVALID_PARAMS - 1 parameters required"],
      ["subscribe \n", "E_INVALID_CHANNEL - channel name is empty"],
      ["publish a b\n", "E_INVALID_PARAMS - 1 parameters required"],
      ["publish \n", "E_INVALID_CHANNEL - channel name required"],
    ] as const) {
      const tcp = await RawTcp.open(node);
      tcp.send(line);
      await tcp.expectError(text);
      await tcp.expectClosed();
    }
  });

  it("refuses a second subscribe to the same channel on one socket, naming the server's address", async () => {
    const node = await startNode();
    const tcp = await RawTcp.open(node);
    tcp.send("subscribe news\nsubscribe news\nsubscribe sport\n");
    expect(await tcp.expect(RESULT)).toBe("ok");
    await tcp.expectError(`E_INVALID_SUBSCRIBE - client 127.0.0.1:${node.tcpPort} had connection.`);
    expect(await tcp.expect(RESULT)).toBe("ok");
    expect(node.channels()).toEqual({ news: 1, sport: 1 });
  });

  it("says no subscribers, non-fatally, after reading the item", async () => {
    const node = await startNode();
    const tcp = await RawTcp.open(node);
    tcp.send("publish void\n", item("queue x y\n"), "queue ch k\n");
    await tcp.expectError("E_INVALID_PUBLISH - no subscribers");
    expect(await tcp.expect(RESULT)).toBe("ok");
    expect(Object.keys(node.topic("ch")!.queues)).toEqual(["k"]);
  });

  it("sends raw bytes to every subscriber, the publisher included, without naming the channel", async () => {
    const node = await startNode();
    const a = await RawTcp.open(node);
    const b = await RawTcp.open(node);
    const other = await RawTcp.open(node);
    for (const [c, name] of [
      [a, "room"],
      [b, "room"],
      [other, "hall"],
    ] as const) {
      c.send(`subscribe ${name}\n`);
      expect(await c.expect(RESULT)).toBe("ok");
    }
    const payload = Buffer.from([0x00, 0xff, 0x0a, 0x72, 0x6f, 0x6f, 0x6d, 0xc3]);
    a.send("publish room\n", item(payload));
    const frames = [await a.next(), await a.next()];
    expect(frames.map((f) => f.type).sort((x, y) => x - y)).toEqual([RESULT, CHANNEL]);
    expect(frames.find((f) => f.type === RESULT)!.text).toBe("ok");
    expect(frames.find((f) => f.type === CHANNEL)!.payload.equals(payload)).toBe(true);
    const atB = await b.next();
    expect(atB.type).toBe(CHANNEL);
    expect(atB.payload.equals(payload)).toBe(true);
    await other.expectQuiet(50);
  });

  it("lets a subscribed connection keep issuing commands, with 104 frames between replies", async () => {
    const node = await startNode();
    const sub = await RawTcp.open(node);
    const pub = await RawTcp.open(node);
    sub.send("subscribe mix\n");
    expect(await sub.expect(RESULT)).toBe("ok");
    pub.send("publish mix\n", item("hello"));
    expect(await pub.expect(RESULT)).toBe("ok");
    sub.send("queue mix k\n");
    expect((await sub.next()).text).toBe("hello");
    expect(await sub.expect(RESULT)).toBe("ok");
  });

  it("removes a channel with its last subscriber; later publishes find no subscribers", async () => {
    const node = await startNode();
    const a = await RawTcp.open(node);
    const b = await RawTcp.open(node);
    for (const c of [a, b]) {
      c.send("subscribe gone\n");
      expect(await c.expect(RESULT)).toBe("ok");
    }
    expect(node.channels()).toEqual({ gone: 2 });
    a.close();
    await a.whenClosed;
    await sleep(30);
    expect(node.channels()).toEqual({ gone: 1 });
    b.close();
    await b.whenClosed;
    await sleep(30);
    expect(node.channels()).toEqual({});
    const pub = await RawTcp.open(node);
    pub.send("publish gone\n", item("x"));
    await pub.expectError("E_INVALID_PUBLISH - no subscribers");
  });

  it("fails later publishes with timeout. while a subscriber does not read", async () => {
    const node = await startNode({ publishTimeoutMs: 300 });
    const slow = await RawTcp.open(node);
    slow.send("subscribe jam\n");
    expect(await slow.expect(RESULT)).toBe("ok");
    slow.socket.pause();
    const pub = await RawTcp.open(node);
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    const outcomes: string[] = [];
    for (let i = 0; i < 64 && !outcomes.includes("E_INVALID_PUBLISH - timeout."); i++) {
      pub.send("publish jam\n", item(chunk));
      outcomes.push((await pub.next({ timeoutMs: 5000 })).text);
    }
    expect(outcomes[0]).toBe("ok");
    expect(outcomes.at(-1)).toBe("E_INVALID_PUBLISH - timeout.");
    expect(outcomes.slice(0, -1).every((o) => o === "ok")).toBe(true);
    // The publisher's connection survives; once the subscriber reads, the channel flows again.
    slow.socket.resume();
    await sleep(200);
    pub.send("publish jam\n", item("after"));
    expect(await pub.expect(RESULT, { timeoutMs: 5000 })).toBe("ok");
  });
});
