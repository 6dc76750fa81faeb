/**
 * gnode emulator, the upstream crashes and hangs it refuses to reproduce (spec §7.2): each case
 * gets the listed error and one `{kind, detail}` entry in `incidents`, and the node carries on.
 */

import { createManualClock } from "gmq/testing";
import { describe, expect, it } from "vitest";
import {
  api,
  declare,
  item,
  MESSAGE,
  popNow,
  push,
  pushOk,
  RawTcp,
  RESULT,
  startNode,
  takeIncidents,
  u32,
} from "./support/gnode-wire.js";

type Node = Awaited<ReturnType<typeof startNode>>;

/** The node still works after the incident. */
async function stillServes(node: Node): Promise<void> {
  await declare(node, "alive", `k${Math.random().toString(36).slice(2, 8)}`);
  const tcp = await RawTcp.open(node);
  await tcp.sync();
}

function kinds(node: Node): string[] {
  return takeIncidents(node).map((i) => i.kind);
}

describe("§7.2 incidents", () => {
  it("TCP set with exactly two arguments: F E_INVALID_SET", async () => {
    const node = await startNode();
    const tcp = await RawTcp.open(node);
    tcp.send("set t 1\n");
    await tcp.expectError("E_INVALID_SET - set is not supported");
    await tcp.expectClosed();
    const incidents = takeIncidents(node);
    expect(incidents).toHaveLength(1);
    expect(incidents[0]!.kind).toBe("set-command");
    expect(incidents[0]!.detail.length).toBeGreaterThan(0);
    await stillServes(node);
  });

  it("an empty topic on HTTP /push: code 1 topic is empty", async () => {
    const node = await startNode();
    for (const data of [{ body: "x" }, { topic: "", body: "x" }, { topic: null }, null]) {
      expect(await push(node, data === null ? "null" : data)).toEqual({
        code: 1,
        data: null,
        msg: "topic is empty",
      });
    }
    expect(kinds(node)).toEqual(["empty-topic", "empty-topic", "empty-topic", "empty-topic"]);
    expect(node.topicNames()).toEqual([]);
    await stillServes(node);
  });

  it("an empty topic on TCP pub, mpub, ack and dead: F E_INVALID_TOPIC - topic name required", async () => {
    const node = await startNode();
    for (const parts of [
      ["pub  k 0\n", item("x")],
      ["mpub  1\n", item("{}")],
      ["ack 1  k\n"],
      ["dead  k\n"],
    ]) {
      const tcp = await RawTcp.open(node);
      tcp.send(...parts);
      await tcp.expectError("E_INVALID_TOPIC - topic name required");
      await tcp.expectClosed();
    }
    expect(kinds(node)).toEqual(["empty-topic", "empty-topic", "empty-topic", "empty-topic"]);
    expect(node.topicNames()).toEqual([]);
  });

  it("names that cannot be queue files: HTTP invalid name, TCP F E_INVALID_PARAMS - invalid name", async () => {
    const node = await startNode();
    const long = "t".repeat(239);
    for (const [topic, bindKey] of [
      ["a/b", "k"],
      ["t", "k/1"],
      ["t", "nul\u0000"],
      [long, "k".repeat(5)],
    ]) {
      expect(await api(node, "/declareQueue", { topic: topic!, bindKey: bindKey! })).toEqual({
        code: 1,
        data: null,
        msg: "invalid name",
      });
    }
    // 255 bytes exactly is still fine: `<topic>_<bind_key>_dead.queue`.
    expect(await api(node, "/declareQueue", { topic: long, bindKey: "k".repeat(4) })).toMatchObject({
      code: 0,
    });
    // The auto-created default queue is checked too.
    expect(await push(node, { topic: "x/y", body: "b" })).toEqual({
      code: 1,
      data: null,
      msg: "invalid name",
    });
    // A push that creates no queue is an ordinary routing error.
    expect(await push(node, { topic: "x/y", route_key: "r", body: "b" })).toMatchObject({
      msg: "routeKey:r is not match with queue, the mode is 2",
    });
    const tcp = await RawTcp.open(node);
    tcp.send("queue a/b k\n");
    await tcp.expectError("E_INVALID_PARAMS - invalid name");
    await tcp.expectClosed();
    const pub = await RawTcp.open(node);
    pub.send("pub a/b  0\n", item("x"));
    await pub.expectError("E_INVALID_PARAMS - invalid name");
    await pub.expectClosed();
    expect(kinds(node)).toEqual(Array(7).fill("invalid-name"));
  });

  it("bodies over 10,485,735 bytes and huge length prefixes: F E_INVALID_READ - body too large, unread", async () => {
    const node = await startNode();
    await declare(node, "big", "k");
    const max = 10 * 1024 * 1024 - 25;
    const ok = await RawTcp.open(node);
    const id = await ok.pub("big", "k", Buffer.alloc(max, 0x61));
    expect((await popNow(node, "big", "k")).id).toBe(id);
    for (const parts of [
      ["pub big k 0\n", u32(max + 1)],
      ["mpub big 1\n", u32(0xffffffff)],
      ["publish chan\n", u32(0xfffffff0)],
    ]) {
      const tcp = await RawTcp.open(node);
      tcp.send(...parts);
      await tcp.expectError("E_INVALID_READ - body too large");
      await tcp.expectClosed();
    }
    // An mpub item whose decoded body is over the limit.
    const mpub = await RawTcp.open(node);
    mpub.send("mpub big 1\n", item(JSON.stringify({ body: "b".repeat(max + 1), route_key: "k" })));
    await mpub.expectError("E_INVALID_READ - body too large");
    await mpub.expectClosed();
    expect(kinds(node)).toEqual(Array(4).fill("body-too-large"));
    expect(node.topic("big")!.queues.k!.unread).toBe(0);
  });

  it("a TCP dead blocked while its topic exits: F E_INVALID_READ - closed.", async () => {
    const clock = createManualClock(1_750_000_000_000);
    const node = await startNode({ clock, scanIntervalMs: 0, msgTTR: 1, msgMaxRetry: 1 });
    await declare(node, "ex", "k");
    await api(node, "/config", { topic: "ex", isAutoAck: "0" });
    await pushOk(node, "ex", "k", "dies");
    for (const _ of [1, 2]) {
      await popNow(node, "ex", "k");
      clock.advance(1000);
      node.scan();
    }
    const tcp = await RawTcp.open(node);
    tcp.send("dead ex k\ndead ex k\n");
    expect(JSON.parse(await tcp.expect(MESSAGE)).body).toBe("dies");
    await tcp.expectQuiet(50);
    await api(node, "/exitTopic", { topic: "ex" });
    await tcp.expectError("E_INVALID_READ - closed.");
    await tcp.expectClosed();
    expect(kinds(node)).toEqual(["dead-during-exit"]);
  });

  it("is empty after ordinary traffic, errors included", async () => {
    const node = await startNode();
    const tcp = await RawTcp.open(node);
    tcp.send("queue fine k\n", "pub fine nowhere-x 0\n", item("x"));
    expect(await tcp.expect(RESULT)).toBe("ok");
    await tcp.expectError("E_INVALID_READ - routeKey:nowhere-x is not match with queue, the mode is 2");
    expect(node.incidents).toEqual([]);
  });
});
