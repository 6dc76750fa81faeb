/**
 * gnode emulator, lifecycle (checklist §7.1 #9, #16–19): abandoned HTTP `/pop` waiters that still
 * consume, `/exitTopic` and reloading from metadata, `restart()` graceful or not, TopicStat, and
 * the absence of server-side timeouts.
 */

import { connect } from "node:net";
import { createManualClock } from "gmq/testing";
import { describe, expect, it } from "vitest";
import {
  api,
  config,
  declare,
  http,
  MESSAGE,
  popNow,
  pushOk,
  RawTcp,
  RESULT,
  sleep,
  startNode,
  stat,
} from "./support/gnode-wire.js";

type Node = Awaited<ReturnType<typeof startNode>>;

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not reached");
    await sleep(10);
  }
}

/** A `/pop` the client gives up on once the server has it waiting. */
async function abandonedPop(node: Node, topic: string, bindKey: string): Promise<void> {
  const before = node.topic(topic)?.queues[bindKey]?.consumers ?? 0;
  const controller = new AbortController();
  const pending = fetch(`${node.httpUrl}/pop?topic=${topic}&bindKey=${bindKey}`, {
    signal: controller.signal,
  });
  await until(() => node.topic(topic)!.queues[bindKey]!.consumers === before + 1);
  controller.abort();
  await expect(pending).rejects.toThrow();
  await sleep(30);
}

describe("abandoned HTTP /pop (#9)", () => {
  it("still takes the next message: lost with auto-ack", async () => {
    const node = await startNode();
    await declare(node, "lost", "k");
    await abandonedPop(node, "lost", "k");
    expect(node.topic("lost")!.queues.k!.consumers).toBe(1);
    await pushOk(node, "lost", "k", "into the void");
    await pushOk(node, "lost", "k", "second");
    expect((await popNow(node, "lost", "k")).body).toBe("second");
    expect(await stat(node, "lost")).toMatchObject({ pop_num: 2, wait_ack_num: 0 });
  });

  it("still takes the next message: in flight with manual ack, back after TTR with retry_count 1", async () => {
    const clock = createManualClock(1_750_000_000_000);
    const node = await startNode({ clock, scanIntervalMs: 0 });
    await declare(node, "orphan", "k");
    await config(node, "orphan", { isAutoAck: "0", msgTTR: "5" });
    await abandonedPop(node, "orphan", "k");
    const id = await pushOk(node, "orphan", "k", "taken by a ghost");
    expect(await stat(node, "orphan")).toMatchObject({ wait_ack_num: 1 });
    clock.advance(5000);
    node.scan();
    expect(await popNow(node, "orphan", "k")).toEqual({ id, body: "taken by a ghost", retry_count: 1 });
  });

  it("serves HTTP waiters FIFO, one message each", async () => {
    const node = await startNode();
    await declare(node, "line", "k");
    const first = api(node, "/pop", { topic: "line", bindKey: "k" });
    await until(() => node.topic("line")!.queues.k!.consumers === 1);
    const second = api(node, "/pop", { topic: "line", bindKey: "k" });
    await until(() => node.topic("line")!.queues.k!.consumers === 2);
    await pushOk(node, "line", "k", "a");
    await pushOk(node, "line", "k", "b");
    expect(((await first).data as { body: string }).body).toBe("a");
    expect(((await second).data as { body: string }).body).toBe("b");
  });
});

describe("/exitTopic (#16)", () => {
  it("fails TCP pop waiters with E_INVALID_READ - closed. and drops HTTP waiters with no response", async () => {
    const node = await startNode();
    await declare(node, "bye", "k");
    const tcp = await RawTcp.open(node);
    tcp.send("pop bye k\n");
    const httpPop = fetch(`${node.httpUrl}/pop?topic=bye&bindKey=k`).then(
      () => "answered",
      () => "dropped",
    );
    await until(() => node.topic("bye")!.queues.k!.consumers === 2);
    expect(await api(node, "/exitTopic", { topic: "bye" })).toEqual({
      code: 0,
      data: null,
      msg: "topic.bye has exit.",
    });
    await tcp.expectError("E_INVALID_READ - closed.");
    await tcp.expectClosed();
    expect(await httpPop).toBe("dropped");
    expect(node.topicNames()).toEqual([]);
    expect(await api(node, "/getTopicStat", { topic: "bye" })).toMatchObject({ msg: "topic is not exist" });
  });

  it("reloads on the next touch: mode, isAutoAck, counters and non-empty queues come back; TTR and in-flight do not", async () => {
    const clock = createManualClock(1_750_000_000_000);
    const node = await startNode({ clock, scanIntervalMs: 0, msgTTR: 30 });
    await declare(node, "meta", "full", "empty", "flying");
    await config(node, "meta", { isAutoAck: "0", mode: "1", msgTTR: "5", msgRetry: "2" });
    const kept = [await pushOk(node, "meta", "full", "one"), await pushOk(node, "meta", "full", "two")];
    const flying = await pushOk(node, "meta", "flying", "in flight");
    await popNow(node, "meta", "flying");
    await api(node, "/exitTopic", { topic: "meta" });

    await api(node, "/getQueuesByTopic", { topic: "meta" });
    expect(node.topic("meta")).toMatchObject({ mode: 1, isAutoAck: false, msgTTR: 30, msgRetry: 5 });
    expect(await stat(node, "meta")).toMatchObject({
      push_num: 3,
      pop_num: 1,
      queue_num: 2,
      wait_ack_num: 0,
      is_auto_ack: false,
    });
    expect(Object.keys(node.topic("meta")!.queues).sort()).toEqual(["flying", "full"]);
    expect(await api(node, "/pop", { topic: "meta", bindKey: "empty" })).toMatchObject({
      msg: "bindKey:empty can't match queue",
    });
    expect((await popNow(node, "meta", "full")).id).toBe(kept[0]);
    expect((await popNow(node, "meta", "full")).id).toBe(kept[1]);
    expect(await api(node, "/ack", { msgId: flying, topic: "meta", bindKey: "flying" })).toMatchObject({
      msg: `msgId:${flying} is not exist.`,
    });
    clock.advance(60_000);
    node.scan();
    expect(node.topic("meta")!.queues.flying!.unread).toBe(0);
  });

  it("judges emptiness by upstream's num counter, which auto-ack reads push below zero", async () => {
    const node = await startNode({ scanIntervalMs: 0 });
    await declare(node, "num", "scanned", "fresh", "untouched");
    await pushOk(node, "num", "scanned", "x");
    await popNow(node, "num", "scanned");
    // An auto-ack read counts once at read time and once more when the scanner passes the record.
    node.scan();
    await pushOk(node, "num", "fresh", "y");
    await popNow(node, "num", "fresh");
    await api(node, "/exitTopic", { topic: "num" });
    await api(node, "/getQueuesByTopic", { topic: "num" });
    expect(Object.keys(node.topic("num")!.queues)).toEqual(["scanned"]);
    expect(node.topic("num")!.queues.scanned).toMatchObject({ num: -1, unread: 0 });
    expect(await stat(node, "num")).toMatchObject({ queue_msg_num: -1, queue_num: 1 });
  });

  it("restores a non-empty DLQ", async () => {
    const clock = createManualClock(1_750_000_000_000);
    const node = await startNode({ clock, scanIntervalMs: 0, msgTTR: 1, msgMaxRetry: 1 });
    await declare(node, "dlq", "k");
    await config(node, "dlq", { isAutoAck: "0" });
    const id = await pushOk(node, "dlq", "k", "dead");
    for (const _ of [1, 2]) {
      await popNow(node, "dlq", "k");
      clock.advance(1000);
      node.scan();
    }
    await api(node, "/exitTopic", { topic: "dlq" });
    const tcp = await RawTcp.open(node);
    tcp.send("dead dlq k\n");
    expect(JSON.parse(await tcp.expect(MESSAGE))).toEqual({ id, body: "dead", retry_count: 2 });
  });

  it("keeps delayed messages of an unloaded topic until it is touched again", async () => {
    const clock = createManualClock(1_750_000_000_000);
    const node = await startNode({ clock, scanIntervalMs: 0 });
    await declare(node, "nap", "k");
    await pushOk(node, "nap", "k", "waiting", 2);
    await pushOk(node, "nap", "k", "keeps the queue");
    await api(node, "/exitTopic", { topic: "nap" });
    clock.advance(10_000);
    node.scan();
    expect(node.topicNames()).toEqual([]);
    await api(node, "/getQueuesByTopic", { topic: "nap" });
    expect(await stat(node, "nap")).toMatchObject({ delay_num: 1 });
    node.scan();
    expect(await stat(node, "nap")).toMatchObject({ delay_num: 0 });
    expect((await popNow(node, "nap", "k")).body).toBe("keeps the queue");
    expect((await popNow(node, "nap", "k")).body).toBe("waiting");
  });
});

describe("restart (#17)", () => {
  it("closes every socket and comes back on the same ports", async () => {
    const node = await startNode();
    const tcp = await RawTcp.open(node);
    await tcp.sync();
    const [httpPort, tcpPort] = [node.httpPort, node.tcpPort];
    await node.restart();
    await tcp.whenClosed;
    expect([node.httpPort, node.tcpPort]).toEqual([httpPort, tcpPort]);
    expect((await http(node, "/ping")).text).toBe("OK");
    const again = await RawTcp.open(node);
    await again.sync();
    expect(node.tcpConnections()).toBe(1);
  });

  it("graceful: restores queues and settings, fails TCP pops with closed., forgets TTR and channels", async () => {
    const node = await startNode();
    await declare(node, "g", "k", "idle");
    await config(node, "g", { mode: "1", isAutoAck: "1", msgTTR: "7" });
    const id = await pushOk(node, "g", "k", "survives");
    const popper = await RawTcp.open(node);
    popper.send("pop g idle\n");
    const sub = await RawTcp.open(node);
    sub.send("subscribe c\n");
    expect(await sub.expect(RESULT)).toBe("ok");
    await until(() => node.topic("g")!.queues.idle!.consumers === 1);
    await node.restart({ graceful: true });
    await popper.expectError("E_INVALID_READ - closed.");
    await popper.expectClosed();
    await sub.whenClosed;
    expect(node.channels()).toEqual({});
    expect(node.topicNames()).toEqual([]);
    expect(await popNow(node, "g", "k")).toEqual({ id, body: "survives", retry_count: 0 });
    expect(node.topic("g")).toMatchObject({ mode: 1, isAutoAck: true, msgTTR: 30 });
    expect(Object.keys(node.topic("g")!.queues)).toEqual(["k"]);
  });

  it("not graceful: queues and settings are lost, delayed messages survive and resume once touched", async () => {
    const clock = createManualClock(1_750_000_000_000);
    const node = await startNode({ clock, scanIntervalMs: 0 });
    await declare(node, "crash", "k");
    await config(node, "crash", { mode: "1" });
    await pushOk(node, "crash", "k", "lost");
    await pushOk(node, "crash", "k", "delayed", 3);
    const before = BigInt(await pushOk(node, "crash", "k", "lost too"));
    await node.restart({ graceful: false });
    clock.advance(5000);
    node.scan();
    expect(node.topicNames()).toEqual([]);
    await api(node, "/getQueuesByTopic", { topic: "crash" });
    expect(node.topic("crash")).toMatchObject({ mode: 2, isAutoAck: true, queues: {} });
    // The due copy's target must exist again, or it is dropped.
    await declare(node, "crash", "k");
    node.scan();
    expect((await popNow(node, "crash", "k")).body).toBe("delayed");
    expect(node.topic("crash")!.queues.k!.unread).toBe(0);
    expect(BigInt(await pushOk(node, "crash", "k", "after")) > before).toBe(true);
  });

  it("not graceful after an earlier exit: the older metadata file comes back, as upstream reads it", async () => {
    const node = await startNode();
    await declare(node, "stale", "k");
    await pushOk(node, "stale", "k", "from the first exit");
    await api(node, "/exitTopic", { topic: "stale" });
    expect((await popNow(node, "stale", "k")).body).toBe("from the first exit");
    await pushOk(node, "stale", "k", "never saved");
    await node.restart({ graceful: false });
    expect((await popNow(node, "stale", "k")).body).toBe("from the first exit");
    expect(node.topic("stale")!.queues.k!.unread).toBe(0);
  });

  it("refuses connections for downMs", async () => {
    const node = await startNode();
    const restarting = node.restart({ downMs: 300 });
    await sleep(50);
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect(node.tcpPort, "127.0.0.1");
      s.on("close", () => resolve(true));
      s.on("data", () => resolve(false));
      s.write("queue down k\n");
    });
    expect(refused).toBe(true);
    await expect(fetch(`${node.httpUrl}/ping`)).rejects.toThrow();
    await restarting;
    expect((await http(node, "/ping")).text).toBe("OK");
    expect(node.topicNames()).toEqual([]);
  });
});

describe("TopicStat (#18)", () => {
  it("has upstream's shape; pop_num counts HTTP pops only", async () => {
    const clock = createManualClock(new Date(2025, 5, 1, 8, 9, 10).getTime());
    const node = await startNode({ clock, scanIntervalMs: 0 });
    await declare(node, "st", "a", "b");
    await config(node, "st", { isAutoAck: "0" });
    await pushOk(node, "st", "a", "1");
    await pushOk(node, "st", "a", "2");
    await pushOk(node, "st", "b", "3", 60);
    await popNow(node, "st", "a");
    const tcp = await RawTcp.open(node);
    expect((await tcp.pop("st", "a")).body).toBe("2");
    const raw = await http(node, "/getTopicStat", { topic: "st" });
    expect(raw.text).toBe(
      '{"code":0,"data":{"name":"st","pop_num":1,"push_num":2,"dead_num":0,"queue_msg_num":2,"queue_num":2,' +
        '"delay_num":1,"wait_ack_num":2,"start_time":"2025-06-01 08:09:10","is_auto_ack":false},"msg":"success"}',
    );
    const all = await api(node, "/getAllTopicStat");
    expect(all.data).toEqual([JSON.parse(raw.text).data]);
  });
});

describe("no hidden timeouts (#19)", () => {
  it("keeps an idle HTTP keep-alive connection open past Node's usual 5 s", async () => {
    const node = await startNode();
    const socket = connect(node.httpPort, "127.0.0.1");
    let received = "";
    socket.on("data", (d) => {
      received += d.toString();
    });
    const request = "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";
    socket.write(request);
    await until(() => received.endsWith("OK"));
    await sleep(5500);
    expect(socket.destroyed).toBe(false);
    received = "";
    socket.write(request);
    await until(() => received.endsWith("OK"));
    socket.destroy();
  }, 15_000);
});
