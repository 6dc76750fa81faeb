/**
 * gnode emulator, time-driven behaviour on a manual clock (checklist §7.1 #7, #10, #11): delays
 * with targets fixed at push and whole-second due times, TTR redelivery to the tail with the
 * head-of-line stop, retries into the DLQ, and `dead` reads.
 */

import { createManualClock, type ManualClock } from "gmq/testing";
import { describe, expect, it } from "vitest";
import {
  api,
  config,
  declare,
  MESSAGE,
  popNow,
  push,
  pushOk,
  RawTcp,
  startNode,
  stat,
} from "./support/gnode-wire.js";

/** 12:00:00.999 on some day: the push second is 1_750_000_000, one millisecond from the next. */
const LATE_IN_SECOND = 1_750_000_000_999;

async function manualNode(options: Parameters<typeof startNode>[0] = {}) {
  const clock = createManualClock(LATE_IN_SECOND);
  const node = await startNode({ clock, scanIntervalMs: 0, ...options });
  return { node, clock };
}

function at(clock: ManualClock, ms: number): void {
  clock.set(ms);
}

describe("delay (#7)", () => {
  it("delivers at the first scan where floor(now_s) >= push_s + delay", async () => {
    const { node, clock } = await manualNode();
    await declare(node, "dl", "k");
    const id = await pushOk(node, "dl", "k", "later", 3);
    expect(await stat(node, "dl")).toMatchObject({ delay_num: 1, push_num: 0 });
    expect(node.topic("dl")!.queues.k!.unread).toBe(0);
    at(clock, 1_750_000_002_999);
    node.scan();
    expect(node.topic("dl")!.queues.k!.unread).toBe(0);
    at(clock, 1_750_000_003_000);
    expect(node.topic("dl")!.queues.k!.unread).toBe(0);
    node.scan();
    expect(await stat(node, "dl")).toMatchObject({ delay_num: 0, push_num: 1 });
    expect(await popNow(node, "dl", "k")).toEqual({ id, body: "later", retry_count: 0 });
  });

  it("also runs on the scanner's real timer, reading the clock", async () => {
    const { node, clock } = await manualNode({ scanIntervalMs: 20 });
    await declare(node, "timer", "k");
    await pushOk(node, "timer", "k", "x", 1);
    clock.advance(1);
    const popped = api(node, "/pop", { topic: "timer", bindKey: "k" });
    expect(((await popped).data as { body: string }).body).toBe("x");
  });

  it("fixes the targets at push time: queues declared later get nothing, vanished ones are skipped", async () => {
    const { node, clock } = await manualNode();
    await declare(node, "fixed", "orders.a", "orders.b");
    await pushOk(node, "fixed", "^orders\\.", "fan later", 2);
    await declare(node, "fixed", "orders.c");
    await api(node, "/exitTopic", { topic: "fixed" });
    // Reloaded from metadata: the empty queues are gone; re-declare only one of them.
    await declare(node, "fixed", "orders.a");
    clock.advance(2000);
    node.scan();
    expect(node.topic("fixed")!.queues["orders.a"]!.unread).toBe(1);
    expect(Object.keys(node.topic("fixed")!.queues)).toEqual(["orders.a"]);
    expect(node.topic("fixed")!.delayed).toBe(0);
    expect(node.topic("fixed")!.pushNum).toBe(1);
  });

  it("still needs a match at push time", async () => {
    const { node } = await manualNode();
    await declare(node, "dm", "k");
    expect(await push(node, { topic: "dm", route_key: "x", body: "b", delay: 5 })).toMatchObject({
      code: 1,
      msg: "routeKey:x is not match with queue, the mode is 2",
    });
    expect(node.topic("dm")!.delayed).toBe(0);
  });

  it("delivers due messages in due-time then id order, to the tail", async () => {
    const { node, clock } = await manualNode();
    await declare(node, "ord", "k");
    await pushOk(node, "ord", "k", "d5", 5);
    await pushOk(node, "ord", "k", "d2", 2);
    await pushOk(node, "ord", "k", "d2 second", 2);
    await pushOk(node, "ord", "k", "now");
    clock.advance(10_000);
    node.scan();
    const bodies = [];
    for (let i = 0; i < 4; i++) bodies.push((await popNow(node, "ord", "k")).body);
    expect(bodies).toEqual(["now", "d2", "d2 second", "d5"]);
  });

  it("stores a negative delay as delay >>> 0 seconds", async () => {
    const { node, clock } = await manualNode();
    await declare(node, "neg", "k");
    await pushOk(node, "neg", "k", "in 136 years", -1);
    clock.advance(365 * 24 * 3600 * 1000);
    node.scan();
    expect(node.topic("neg")).toMatchObject({ delayed: 1 });
    clock.advance((4294967295 - 365 * 24 * 3600) * 1000);
    node.scan();
    expect(node.topic("neg")!.queues.k!.unread).toBe(1);
  });

  it("has no cap over HTTP; TCP pub caps at 259200 while mpub does not", async () => {
    const { node } = await manualNode();
    await declare(node, "cap", "k");
    await pushOk(node, "cap", "k", "http", 999_999);
    const tcp = await RawTcp.open(node);
    await tcp.pub("cap", "k", "tcp at cap", 259200);
    tcp.send("pub cap k 259201\n");
    await tcp.expectError("E_INVALID_DELAY - delay can't exceeding the maximum %!s(int=259200)");
    expect(node.topic("cap")!.delayed).toBe(2);
  });
});

describe("TTR (#10)", () => {
  it("redelivers an unacked message to the tail with retry_count + 1 once now_s reaches its deadline", async () => {
    const { node, clock } = await manualNode();
    await declare(node, "ttr", "k");
    await config(node, "ttr", { isAutoAck: "0", msgTTR: "10" });
    const id = await pushOk(node, "ttr", "k", "first");
    await popNow(node, "ttr", "k");
    await pushOk(node, "ttr", "k", "second");
    expect(await stat(node, "ttr")).toMatchObject({ wait_ack_num: 1 });
    at(clock, 1_750_000_009_999);
    node.scan();
    expect(await stat(node, "ttr")).toMatchObject({ wait_ack_num: 1 });
    at(clock, 1_750_000_010_000);
    node.scan();
    expect(await stat(node, "ttr")).toMatchObject({ wait_ack_num: 0, push_num: 3 });
    expect((await popNow(node, "ttr", "k")).body).toBe("second");
    expect(await popNow(node, "ttr", "k")).toEqual({ id, body: "first", retry_count: 1 });
    expect(await api(node, "/ack", { msgId: id, topic: "ttr", bindKey: "k" })).toEqual({
      code: 0,
      data: null,
      msg: "success",
    });
  });

  it("stops each tick at the first unexpired in-flight message (head-of-line)", async () => {
    const { node, clock } = await manualNode();
    await declare(node, "hol", "k");
    await config(node, "hol", { isAutoAck: "0" });
    await pushOk(node, "hol", "k", "ttr 30");
    await popNow(node, "hol", "k");
    await config(node, "hol", { isAutoAck: "0", msgTTR: "5" });
    await pushOk(node, "hol", "k", "ttr 5");
    await popNow(node, "hol", "k");
    clock.advance(10_000);
    node.scan();
    expect(node.topic("hol")!.queues.k).toMatchObject({ unread: 0, inFlight: 2 });
    clock.advance(20_000);
    node.scan();
    expect(node.topic("hol")!.queues.k).toMatchObject({ unread: 2, inFlight: 0 });
    expect((await popNow(node, "hol", "k")).body).toBe("ttr 30");
  });

  it("passes acked messages and redelivers the expired ones behind them", async () => {
    const { node, clock } = await manualNode();
    await declare(node, "skip", "k");
    await config(node, "skip", { isAutoAck: "0", msgTTR: "5" });
    const a = await pushOk(node, "skip", "k", "a");
    await pushOk(node, "skip", "k", "b");
    await popNow(node, "skip", "k");
    await popNow(node, "skip", "k");
    await api(node, "/ack", { msgId: a, topic: "skip", bindKey: "k" });
    clock.advance(5000);
    node.scan();
    expect(await popNow(node, "skip", "k")).toMatchObject({ body: "b", retry_count: 1 });
    expect(node.topic("skip")!.queues.k!.unread).toBe(0);
  });

  it("fails acks of unknown, expired and auto-acked ids", async () => {
    const { node, clock } = await manualNode();
    await declare(node, "nack", "k");
    const auto = await pushOk(node, "nack", "k", "auto");
    await popNow(node, "nack", "k");
    await config(node, "nack", { isAutoAck: "0", msgTTR: "3" });
    const expired = await pushOk(node, "nack", "k", "expired");
    await popNow(node, "nack", "k");
    clock.advance(3000);
    node.scan();
    for (const id of [auto, expired, "123456789"]) {
      expect(await api(node, "/ack", { msgId: id, topic: "nack", bindKey: "k" })).toEqual({
        code: 1,
        data: null,
        msg: `msgId:${id} is not exist.`,
      });
    }
  });

  it("times fan-out copies independently: an ack touches only the queue it names", async () => {
    const { node, clock } = await manualNode();
    await declare(node, "copies", "a", "b");
    await config(node, "copies", { isAutoAck: "0", msgTTR: "5" });
    const id = await pushOk(node, "copies", "^[ab]$", "both");
    await popNow(node, "copies", "a");
    await popNow(node, "copies", "b");
    await api(node, "/ack", { msgId: id, topic: "copies", bindKey: "a" });
    clock.advance(5000);
    node.scan();
    expect(node.topic("copies")!.queues.a!.unread).toBe(0);
    expect(await popNow(node, "copies", "b")).toEqual({ id, body: "both", retry_count: 1 });
  });
});

describe("retries and the DLQ (#10, #11)", () => {
  it("delivers 6 times with retry_count 0..5, then dead-letters a copy with 6", async () => {
    const { node, clock } = await manualNode({ msgTTR: 2 });
    await declare(node, "retry", "k");
    await config(node, "retry", { isAutoAck: "0" });
    const id = await pushOk(node, "retry", "k", "doomed");
    const tcp = await RawTcp.open(node);
    tcp.send("dead retry k\n");
    await tcp.expectError("E_INVALID_DEAD - bindkey:k is not associated with queue");
    const counts: number[] = [];
    for (let i = 0; i < 6; i++) {
      const d = await popNow(node, "retry", "k");
      expect(d.id).toBe(id);
      counts.push(d.retry_count);
      clock.advance(2000);
      node.scan();
    }
    expect(counts).toEqual([0, 1, 2, 3, 4, 5]);
    expect(node.topic("retry")!.queues.k).toMatchObject({ unread: 0, inFlight: 0 });
    expect(await stat(node, "retry")).toMatchObject({ dead_num: 1, wait_ack_num: 0 });
    expect(Object.keys((await api(node, "/getQueuesByTopic", { topic: "retry" })).data as object)).toEqual([
      "k",
    ]);
    tcp.send("dead retry k\n");
    expect(JSON.parse(await tcp.expect(MESSAGE))).toEqual({ id, body: "doomed", retry_count: 6 });
    expect(await stat(node, "retry")).toMatchObject({ dead_num: 0 });
  });

  it("honours a lowered msgRetry, and dead reads follow isAutoAck without ever redelivering", async () => {
    const { node, clock } = await manualNode({ msgTTR: 1 });
    await declare(node, "low", "k");
    await config(node, "low", { isAutoAck: "0", msgRetry: "1" });
    await pushOk(node, "low", "k", "one");
    await pushOk(node, "low", "k", "two");
    for (let round = 0; round < 2; round++) {
      await popNow(node, "low", "k");
      await popNow(node, "low", "k");
      clock.advance(1000);
      node.scan();
    }
    expect(node.topic("low")!.deadQueues.k).toMatchObject({ unread: 2, name: "low_k_dead" });
    const tcp = await RawTcp.open(node);
    tcp.send("dead low k\n");
    expect(JSON.parse(await tcp.expect(MESSAGE))).toMatchObject({ body: "one", retry_count: 2 });
    clock.advance(60_000);
    node.scan();
    expect(node.topic("low")!.deadQueues.k!.unread).toBe(1);
    tcp.send("dead low k\n");
    expect(JSON.parse(await tcp.expect(MESSAGE))).toMatchObject({ body: "two", retry_count: 2 });
    expect(await stat(node, "low")).toMatchObject({ dead_num: 0 });
  });

  it("wakes a blocked dead reader when a letter dies", async () => {
    const { node, clock } = await manualNode({ msgTTR: 1 });
    await declare(node, "wake", "k");
    await config(node, "wake", { isAutoAck: "0", msgRetry: "1" });
    const expireTwice = async () => {
      for (const _ of [1, 2]) {
        await popNow(node, "wake", "k");
        clock.advance(1000);
        node.scan();
      }
    };
    await pushOk(node, "wake", "k", "first");
    await expireTwice();
    await pushOk(node, "wake", "k", "second");
    const tcp = await RawTcp.open(node);
    tcp.send("dead wake k\ndead wake k\n");
    expect(JSON.parse(await tcp.expect(MESSAGE)).body).toBe("first");
    await tcp.expectQuiet(50);
    await expireTwice();
    expect(JSON.parse(await tcp.expect(MESSAGE))).toMatchObject({ body: "second", retry_count: 2 });
  });
});
