/**
 * gnode emulator, upstream-exact read-ahead (checklist §7.1 #20): every queue and DLQ has a hidden
 * reader, first in line, that holds one message for the next TCP `pop`; HTTP `/pop` and `dead`
 * read past it.
 */

import { createManualClock } from "gmq/testing";
import { describe, expect, it } from "vitest";
import {
  api,
  config,
  declare,
  MESSAGE,
  popNow,
  pushOk,
  RawTcp,
  sleep,
  startNode,
} from "./support/gnode-wire.js";

async function manualNode(readAhead: boolean) {
  const clock = createManualClock(1_750_000_000_000);
  const node = await startNode({ clock, scanIntervalMs: 0, readAhead, msgTTR: 5 });
  return { node, clock };
}

describe("readAhead (#20)", () => {
  it("is off by default: an HTTP pop gets the first message", async () => {
    const { node } = await manualNode(false);
    await declare(node, "off", "k");
    const first = await pushOk(node, "off", "k", "first");
    expect(node.topic("off")!.queues.k!.heldByReadAhead).toBeUndefined();
    expect((await popNow(node, "off", "k")).id).toBe(first);
  });

  it("auto-ack, HTTP only: the first message of a queue is stuck with the hidden reader for good", async () => {
    const { node } = await manualNode(true);
    await declare(node, "stuck", "k");
    const first = await pushOk(node, "stuck", "k", "first");
    expect(node.topic("stuck")!.queues.k!.heldByReadAhead).toBe(first);
    const second = await pushOk(node, "stuck", "k", "second");
    expect((await popNow(node, "stuck", "k")).id).toBe(second);
    const blocked = api(node, "/pop", { topic: "stuck", bindKey: "k" });
    const raced = await Promise.race([blocked.then(() => "answered"), sleep(100).then(() => "blocked")]);
    expect(raced).toBe("blocked");
    // Only a TCP pop takes the held message; the waiting HTTP pop then gets the next one.
    const tcp = await RawTcp.open(node);
    expect(await tcp.pop("stuck", "k")).toEqual({ id: first, body: "first", retry_count: 0 });
    const third = await pushOk(node, "stuck", "k", "third");
    const fourth = await pushOk(node, "stuck", "k", "fourth");
    expect(((await blocked).data as { id: string }).id).toBe(fourth);
    expect(node.topic("stuck")!.queues.k!.heldByReadAhead).toBe(third);
  });

  it("manual ack: the held message runs its TTR; its copy reaches HTTP, the stale one still goes to TCP", async () => {
    const { node, clock } = await manualNode(true);
    await declare(node, "stale", "k");
    await config(node, "stale", { isAutoAck: "0" });
    const id = await pushOk(node, "stale", "k", "m");
    expect(node.topic("stale")!.queues.k).toMatchObject({ heldByReadAhead: id, inFlight: 1, unread: 0 });
    clock.advance(5000);
    node.scan();
    expect(await popNow(node, "stale", "k")).toEqual({ id, body: "m", retry_count: 1 });
    const tcp = await RawTcp.open(node);
    expect(await tcp.pop("stale", "k")).toEqual({ id, body: "m", retry_count: 0 });
  });

  it("hands TCP consumers messages whose TTR already ran out, so their ack fails", async () => {
    const { node, clock } = await manualNode(true);
    await declare(node, "late", "k");
    await config(node, "late", { isAutoAck: "0" });
    const first = await pushOk(node, "late", "k", "first");
    const second = await pushOk(node, "late", "k", "second");
    clock.advance(5000);
    node.scan();
    const tcp = await RawTcp.open(node);
    expect(await tcp.pop("late", "k")).toMatchObject({ id: first, retry_count: 0 });
    expect(node.topic("late")!.queues.k!.heldByReadAhead).toBe(second);
    tcp.send(`ack ${first} late k\n`);
    await tcp.expectError(`E_INVALID_ACK - msgId:${first} is not exist.`);
  });

  it("gives TCP pops the held message at once, then reads the next one", async () => {
    const { node } = await manualNode(true);
    await declare(node, "tcp", "k");
    const tcp = await RawTcp.open(node);
    tcp.send("pop tcp k\n");
    await sleep(30);
    const ids = [await pushOk(node, "tcp", "k", "a"), await pushOk(node, "tcp", "k", "b")];
    expect(JSON.parse(await tcp.expect(MESSAGE)).id).toBe(ids[0]);
    expect(node.topic("tcp")!.queues.k!.heldByReadAhead).toBe(ids[1]);
    expect((await tcp.pop("tcp", "k")).id).toBe(ids[1]);
    expect(node.topic("tcp")!.queues.k!.heldByReadAhead).toBeUndefined();
  });

  it("keeps the first dead letter of each DLQ from dead", async () => {
    const { node, clock } = await manualNode(true);
    await declare(node, "dlq", "k");
    await config(node, "dlq", { isAutoAck: "0", msgRetry: "1" });
    const tcp = await RawTcp.open(node);
    const ids = [await pushOk(node, "dlq", "k", "one"), await pushOk(node, "dlq", "k", "two")];
    // The hidden reader reads each delivery; TCP pops take them; nobody acks.
    for (let round = 0; round < 2; round++) {
      await tcp.pop("dlq", "k");
      await tcp.pop("dlq", "k");
      clock.advance(5000);
      node.scan();
    }
    expect(node.topic("dlq")!.deadQueues.k).toMatchObject({ heldByReadAhead: ids[0], unread: 1 });
    tcp.send("dead dlq k\n");
    expect(JSON.parse(await tcp.expect(MESSAGE))).toMatchObject({ id: ids[1], retry_count: 2 });
    tcp.send("dead dlq k\n");
    await tcp.expectQuiet(100);
  });
});
