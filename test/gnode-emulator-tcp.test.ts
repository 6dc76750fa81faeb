/**
 * gnode emulator, TCP protocol (spec §3; checklist §7.1 #3, #8, #12–14): framing, line rules,
 * one command at a time with in-order replies, every §3.1 text with its fatal/non-fatal class,
 * the desync behaviours, heartbeats and the `ping` deadline. Raw `node:net` sockets only.
 */

import { createManualClock } from "gmq/testing";
import { describe, expect, it } from "vitest";
import {
  api,
  declare,
  ERROR,
  frameBytes,
  item,
  MESSAGE,
  PING,
  popNow,
  pushOk,
  RawTcp,
  RESULT,
  sleep,
  startNode,
  u32,
} from "./support/gnode-wire.js";

const json = (v: unknown) => item(JSON.stringify(v));

describe("framing (#12)", () => {
  it("answers pub and pop with exactly the bytes of spec §3.3", async () => {
    const node = await startNode();
    await declare(node, "orders", "created");
    const tcp = await RawTcp.open(node);
    tcp.send("pub orders created 0\n", u32(5), "hello");
    const id = await tcp.expect(RESULT);
    expect(id).toMatch(/^\d{19}$/);
    expect(tcp.received.equals(frameBytes(RESULT, id))).toBe(true);
    expect(tcp.received.subarray(0, 6).toString("hex")).toBe("006700000013");
    tcp.send("pop orders created\n");
    const payload = `{"id":"${id}","body":"hello","retry_count":0}`;
    expect(await tcp.expect(MESSAGE)).toBe(payload);
    expect(tcp.received.subarray(6 + 19).equals(frameBytes(MESSAGE, payload))).toBe(true);
  });

  it("handles lines and items split byte by byte", async () => {
    const node = await startNode();
    await declare(node, "split", "k");
    const tcp = await RawTcp.open(node);
    await tcp.sendSlowly(
      Buffer.concat([Buffer.from("pub split k 0\r\n"), item("slow body"), Buffer.from("pop split k\n")]),
    );
    const id = await tcp.expect(RESULT);
    expect(JSON.parse(await tcp.expect(MESSAGE))).toEqual({ id, body: "slow body", retry_count: 0 });
  });

  it("answers pipelined commands in request order, from one merged write", async () => {
    const node = await startNode();
    const tcp = await RawTcp.open(node);
    tcp.send(
      "queue pipe a\n",
      "queue pipe a\n",
      "pub pipe a 0\n",
      item("one"),
      "mpub pipe 2\n",
      json({ body: "two", route_key: "a" }),
      json({ body: "three", route_key: "a" }),
      "pop pipe a\n",
      "pop pipe a\n",
      "nope x\n",
      "pop pipe a\n",
      "ack 1 pipe a\n",
    );
    expect(await tcp.expect(RESULT)).toBe("ok");
    await tcp.expectError("E_INVALID_DECLARE - bindKey a has exist.");
    const one = await tcp.expect(RESULT);
    const [two, three] = (await tcp.expect(RESULT)).match(/\d+/g)!;
    expect(JSON.parse(await tcp.expect(MESSAGE))).toEqual({ id: one, body: "one", retry_count: 0 });
    expect(JSON.parse(await tcp.expect(MESSAGE))).toEqual({ id: two, body: "two", retry_count: 0 });
    await tcp.expectError("E_INVALID_CMD - unkown cmd: nope");
    expect(JSON.parse(await tcp.expect(MESSAGE))).toEqual({ id: three, body: "three", retry_count: 0 });
    await tcp.expectError("E_INVALID_ACK - msgId:1 is not exist.");
  });

  it("carries bodies as strings: any bytes in, invalid UTF-8 out as U+FFFD per byte", async () => {
    const node = await startNode();
    await declare(node, "bytes", "k");
    const tcp = await RawTcp.open(node);
    const body = Buffer.from([0x61, 0x00, 0x0a, 0xff, 0xe2, 0x82, 0x62, 0xf0, 0x9f, 0x98, 0x80, 0x22]);
    await tcp.pub("bytes", "k", body);
    tcp.send("pop bytes k\n");
    const text = await tcp.expect(MESSAGE);
    expect(text).toContain('"body":"a\\u0000\\n\ufffd\ufffd\ufffdb😀\\""');
    expect(JSON.parse(text).body).toBe('a\u0000\n\ufffd\ufffd\ufffdb😀"');
  });
});

describe("line rules (#12)", () => {
  it("closes silently on an empty line, a bare word, or a lone CRLF", async () => {
    const node = await startNode();
    for (const line of ["\n", "\r\n", "ping\n", "pop\n", "queue\n"]) {
      const tcp = await RawTcp.open(node);
      tcp.send(line);
      await tcp.expectClosed();
    }
  });

  it("answers earlier lines before closing on a short one", async () => {
    const node = await startNode();
    const tcp = await RawTcp.open(node);
    tcp.send("queue short k\npop\nqueue short k2\n");
    expect(await tcp.expect(RESULT)).toBe("ok");
    await tcp.expectClosed();
    expect(Object.keys(node.topic("short")!.queues)).toEqual(["k"]);
  });

  it("splits on every single space: a double space is an empty token", async () => {
    const node = await startNode();
    const tcp = await RawTcp.open(node);
    // `pub t  0`: empty route key, so the message goes to an auto-created default.
    const id = await tcp.pub("dbl", "", "to default");
    expect(await popNow(node, "dbl", "default")).toMatchObject({ id });
    // `pop t ` with a trailing space: empty bind key means default.
    await tcp.pub("dbl", "", "again");
    tcp.send("pop dbl \n");
    expect(JSON.parse(await tcp.expect(MESSAGE)).body).toBe("again");
    // `queue a b ` has 3 parameters.
    tcp.send("queue dbl k \n");
    await tcp.expectError("E_INVALID_PARAMS - 2 parameters required");
    await tcp.expectClosed();
  });

  it("treats commands as case-sensitive words and answers unknown ones non-fatally", async () => {
    const node = await startNode();
    const tcp = await RawTcp.open(node);
    tcp.send("PUB a b c\n", "Pop a b\n");
    await tcp.expectError("E_INVALID_CMD - unkown cmd: PUB");
    await tcp.expectError("E_INVALID_CMD - unkown cmd: Pop");
    await tcp.sync();
  });

  it("takes a last line without a newline when the client half-closes", async () => {
    const node = await startNode();
    const tcp = await RawTcp.open(node);
    tcp.socket.end("queue eof k");
    expect(await tcp.expect(RESULT)).toBe("ok");
    await tcp.whenClosed;
  });
});

describe("one command at a time (#12)", () => {
  it("holds back later lines while a pop is blocked", async () => {
    const node = await startNode();
    await declare(node, "hold", "k");
    const tcp = await RawTcp.open(node);
    tcp.send("pop hold k\nqueue hold later\n");
    await sleep(100);
    expect(Object.keys(node.topic("hold")!.queues)).toEqual(["k"]);
    const id = await pushOk(node, "hold", "k", "unblock");
    expect(JSON.parse(await tcp.expect(MESSAGE))).toEqual({ id, body: "unblock", retry_count: 0 });
    expect(await tcp.expect(RESULT)).toBe("ok");
    expect(Object.keys(node.topic("hold")!.queues)).toEqual(["k", "later"]);
  });
});

describe("command texts and classes (#3)", () => {
  it("pub", async () => {
    const node = await startNode();
    let tcp = await RawTcp.open(node);
    tcp.send("pub t k\n");
    await tcp.expectError("E_INVALID_PARAMS - 3 parameters required");
    await tcp.expectClosed();

    tcp = await RawTcp.open(node);
    tcp.send("pub t nowhere 0\n", item("lost"));
    await tcp.expectError("E_INVALID_READ - routeKey:nowhere is not match with queue, the mode is 2");
    await tcp.expectClosed();

    tcp = await RawTcp.open(node);
    tcp.send("pub t k 0\n", u32(10), "short");
    tcp.socket.end();
    await tcp.expectError("E_INVALID_READ - unexpected EOF");
    await tcp.expectClosed();
  });

  it("pub: a non-numeric delay counts as 0, the cap is 259200", async () => {
    const node = await startNode();
    await declare(node, "d", "k");
    const tcp = await RawTcp.open(node);
    const id = await tcp.pub("d", "k", "now", "soon");
    expect(await popNow(node, "d", "k")).toMatchObject({ id, body: "now" });
    await tcp.pub("d", "k", "at the cap", 259200);
    expect(node.topic("d")!.delayed).toBe(1);
  });

  it("mpub", async () => {
    const node = await startNode();
    for (const [line, text] of [
      ["mpub t\n", "E_INVALID_PARAMS - 2 parameters required"],
      ["mpub t 1 x\n", "E_INVALID_PARAMS - 2 parameters required"],
      ["mpub t 0\n", "E_INVALID_PUSHNUM - number of push must be between 1 and 1000"],
      ["mpub t -3\n", "E_INVALID_PUSHNUM - number of push must be between 1 and 1000"],
      ["mpub t 1001\n", "E_INVALID_PUSHNUM - number of push must be between 1 and 1000"],
      ["mpub t many\n", "E_INVALID_PUSHNUM - number of push must be between 1 and 1000"],
    ] as const) {
      const tcp = await RawTcp.open(node);
      tcp.send(line);
      await tcp.expectError(text);
      await tcp.expectClosed();
    }
  });

  it("mpub: per-item route key and delay; no cap on delay; any topic field is ignored", async () => {
    const node = await startNode();
    await declare(node, "batch", "a", "b");
    const tcp = await RawTcp.open(node);
    tcp.send(
      "mpub batch 3\n",
      json({ body: "1", route_key: "a", topic: "other" }),
      json({ body: "2", route_key: "b", delay: 300000 }),
      json({ body: "3", route_key: "^[ab]$" }),
    );
    const ids = (await tcp.expect(RESULT)).match(/\d+/g)!;
    expect(ids).toHaveLength(3);
    expect(node.topicNames()).toEqual(["batch"]);
    expect(await popNow(node, "batch", "a")).toMatchObject({ id: ids[0], body: "1" });
    expect(await popNow(node, "batch", "a")).toMatchObject({ id: ids[2], body: "3" });
    expect(await popNow(node, "batch", "b")).toMatchObject({ id: ids[2], body: "3" });
    expect(node.topic("batch")!.delayed).toBe(1);
  });

  it("pop", async () => {
    const node = await startNode();
    let tcp = await RawTcp.open(node);
    tcp.send("pop t\n");
    await tcp.expectError("E_INVALID_PARAMS - 2 parameters required.");
    await tcp.expectClosed();
    tcp = await RawTcp.open(node);
    tcp.send("pop  k\n");
    await tcp.expectError("E_INVALID_PARAMS - topic name required.");
    await tcp.expectClosed();
    tcp = await RawTcp.open(node);
    tcp.send("pop t k\n");
    await tcp.expectError("E_INVALID_POP - bindKey:k can't match queue");
    tcp.send("pop t \n");
    await tcp.expectError("E_INVALID_POP - bindKey: can't match queue");
    await tcp.sync();
    expect(node.topicNames()).toContain("t");
  });

  it("ack", async () => {
    const node = await startNode();
    let tcp = await RawTcp.open(node);
    tcp.send("ack 1 t\n");
    await tcp.expectError("E_INVALID_PARAMS - 3 parameters required");
    await tcp.expectClosed();
    tcp = await RawTcp.open(node);
    tcp.send("ack 1 t k\n");
    await tcp.expectError("E_INVALID_ACK - bindkey:k is not associated with queue");
    await tcp.declare("t", "k");
    tcp.send("ack 12 t k\n", "ack abc t k\n", "ack -1 t k\n");
    await tcp.expectError("E_INVALID_ACK - msgId:12 is not exist.");
    await tcp.expectError("E_INVALID_ACK - msgId:0 is not exist.");
    await tcp.expectError("E_INVALID_ACK - msgId:18446744073709551615 is not exist.");
    await tcp.sync();
  });

  it("ack of a message read with manual ack, on its own queue only", async () => {
    const node = await startNode();
    await api(node, "/config", { topic: "m", isAutoAck: "0" });
    const tcp = await RawTcp.open(node);
    await tcp.declare("m", "a");
    await tcp.declare("m", "b");
    const id = await tcp.pub("m", "^[ab]$", "both");
    expect((await tcp.pop("m", "a")).id).toBe(id);
    expect((await tcp.pop("m", "b")).id).toBe(id);
    tcp.send(`ack ${id} m a\n`, `ack ${id} m a\n`);
    expect(await tcp.expect(RESULT)).toBe("ok");
    await tcp.expectError(`E_INVALID_ACK - msgId:${id} is not exist.`);
    expect(node.topic("m")!.queues.b!.inFlight).toBe(1);
    tcp.send(`ack ${id} m b\n`);
    expect(await tcp.expect(RESULT)).toBe("ok");
  });

  it("dead", async () => {
    const node = await startNode();
    let tcp = await RawTcp.open(node);
    tcp.send("dead t\n");
    await tcp.expectError("E_INVALID_PARAMS - 2 parameters required");
    await tcp.expectClosed();
    tcp = await RawTcp.open(node);
    tcp.send("dead t k\n", "dead t \n");
    await tcp.expectError("E_INVALID_DEAD - bindkey:k is not associated with queue");
    await tcp.expectError("E_INVALID_DEAD - bindkey: is not associated with queue");
    await tcp.sync();
  });

  it("queue (declare)", async () => {
    const node = await startNode();
    for (const [line, text] of [
      ["queue t\n", "E_INVALID_PARAMS - 2 parameters required"],
      ["queue  k\n", "E_INVALID_TOPIC - topic name required"],
      ["queue t \n", "E_INVALID_BINDKEY - bind key required"],
    ] as const) {
      const tcp = await RawTcp.open(node);
      tcp.send(line);
      await tcp.expectError(text);
      await tcp.expectClosed();
    }
    const tcp = await RawTcp.open(node);
    tcp.send("queue t k\nqueue t k\n");
    expect(await tcp.expect(RESULT)).toBe("ok");
    await tcp.expectError("E_INVALID_DECLARE - bindKey k has exist.");
    await tcp.sync();
  });

  it("set: wrong argument counts and an empty topic are answered before anything is set", async () => {
    const node = await startNode();
    for (const [line, text] of [
      ["set t\n", "E_INVALID_PARAMS - 2 parameters required"],
      ["set t 1 2 3 4\n", "E_INVALID_PARAMS - 2 parameters required"],
      ["set  1\n", "E_INVALID_TOPIC - topic is empty"],
    ] as const) {
      const tcp = await RawTcp.open(node);
      tcp.send(line);
      await tcp.expectError(text);
      await tcp.expectClosed();
    }
  });
});

describe("desync (#13)", () => {
  it("after a pub delay over the cap, parses the unread item as command lines", async () => {
    const node = await startNode();
    await declare(node, "late", "k");
    const tcp = await RawTcp.open(node);
    const body = "a b\nqueue late k2\n";
    tcp.send("pub late k 259201\n", item(body));
    await tcp.expectError("E_INVALID_DELAY - delay can't exceeding the maximum %!s(int=259200)");
    // The 4 length bytes and "a" make the first word; the body's second line is a command of its own.
    await tcp.expectError(
      `E_INVALID_CMD - unkown cmd: \u0000\u0000\u0000${String.fromCharCode(body.length)}a`,
    );
    expect(await tcp.expect(RESULT)).toBe("ok");
    expect(Object.keys(node.topic("late")!.queues)).toEqual(["k", "k2"]);
    expect(node.topic("late")!.queues.k!.num).toBe(0);
  });

  it("after a pub delay over the cap, a body of one word closes the socket silently", async () => {
    const node = await startNode();
    const tcp = await RawTcp.open(node);
    tcp.send("pub t k 999999999999999999999\n", item("hello\n"));
    await tcp.expectError("E_INVALID_DELAY - delay can't exceeding the maximum %!s(int=259200)");
    await tcp.expectClosed();
  });

  it("after an mpub push failure, leaves earlier items enqueued and reads the later ones as lines", async () => {
    const node = await startNode();
    await declare(node, "mp", "k");
    const tcp = await RawTcp.open(node);
    tcp.send(
      "mpub mp 3\n",
      json({ body: "kept", route_key: "k" }),
      json({ body: "fails", route_key: "none" }),
      item(" x\nqueue mp k2\n"),
    );
    await tcp.expectError("E_INVALID_PUSH - routeKey:none is not match with queue, the mode is 2");
    await tcp.expectError("E_INVALID_CMD - unkown cmd: \u0000\u0000\u0000\u000f");
    expect(await tcp.expect(RESULT)).toBe("ok");
    expect(Object.keys(node.topic("mp")!.queues)).toEqual(["k", "k2"]);
    expect((await popNow(node, "mp", "k")).body).toBe("kept");
    expect(node.topic("mp")!.queues.k!.unread).toBe(0);
  });

  it("sends an extra decode error for a bad mpub item and still pushes what decoded", async () => {
    const node = await startNode();
    await declare(node, "dec", "k");
    const tcp = await RawTcp.open(node);
    tcp.send(
      "mpub dec 3\n",
      item("{not json"),
      json({ body: "typed", route_key: "k", delay: "5" }),
      json({ body: "fine", route_key: "k" }),
    );
    const first = await tcp.next();
    expect(first.type).toBe(ERROR);
    expect(first.text).toMatch(/^decode msg failed, .+/);
    expect(first.text).not.toContain("E_INVALID");
    await tcp.expectError(
      "decode msg failed, json: cannot unmarshal string into Go struct field RecvMsgData.delay of type int",
    );
    const ids = (await tcp.expect(RESULT)).match(/\d+/g)!;
    expect(ids).toHaveLength(3);
    // Bad syntax decodes nothing: an empty body to an auto-created default, no delay.
    expect(await popNow(node, "dec", "default")).toEqual({ id: ids[0], body: "", retry_count: 0 });
    expect(await popNow(node, "dec", "k")).toEqual({ id: ids[1], body: "typed", retry_count: 0 });
    expect(await popNow(node, "dec", "k")).toEqual({ id: ids[2], body: "fine", retry_count: 0 });
    expect(node.topic("dec")!.delayed).toBe(0);
  });
});

describe("blocking pop and heartbeats (#8)", () => {
  it("waits forever on an empty queue, sending 105 ping every heartbeatMs, first one after heartbeatMs", async () => {
    const node = await startNode({ heartbeatMs: 150 });
    await declare(node, "hb", "k");
    const tcp = await RawTcp.open(node);
    tcp.send("pop hb k\n");
    await tcp.expectQuiet(60);
    for (let i = 0; i < 3; i++) {
      const f = await tcp.next({ timeoutMs: 2000 });
      expect([f.type, f.text]).toEqual([PING, "ping"]);
    }
    const id = await pushOk(node, "hb", "k", "finally");
    expect(JSON.parse(await tcp.expect(MESSAGE, { skipPings: true }))).toMatchObject({ id });
    await tcp.expectQuiet(400);
  });

  it("serves blocked consumers FIFO, one message each, across TCP and HTTP", async () => {
    const node = await startNode();
    await declare(node, "fifo", "k");
    const a = await RawTcp.open(node);
    const b = await RawTcp.open(node);
    a.send("pop fifo k\n");
    await sleep(30);
    const httpPop = api(node, "/pop", { topic: "fifo", bindKey: "k" });
    await sleep(30);
    b.send("pop fifo k\n");
    await sleep(30);
    expect(node.topic("fifo")!.queues.k!.consumers).toBe(3);
    for (const body of ["1", "2", "3"]) await pushOk(node, "fifo", "k", body);
    expect(JSON.parse(await a.expect(MESSAGE)).body).toBe("1");
    expect(((await httpPop).data as { body: string }).body).toBe("2");
    expect(JSON.parse(await b.expect(MESSAGE)).body).toBe("3");
  });

  it("drops a blocked pop whose socket closed without consuming anything", async () => {
    const node = await startNode();
    await declare(node, "gone", "k");
    const tcp = await RawTcp.open(node);
    tcp.send("pop gone k\n");
    await sleep(50);
    tcp.close();
    await tcp.whenClosed;
    await sleep(50);
    expect(node.topic("gone")!.queues.k!.consumers).toBe(0);
    await pushOk(node, "gone", "k", "still here");
    expect((await popNow(node, "gone", "k")).body).toBe("still here");
  });

  it("blocks dead silently: no heartbeats", async () => {
    const clock = createManualClock(1_750_000_000_000);
    const node = await startNode({ heartbeatMs: 50, clock, scanIntervalMs: 0 });
    await api(node, "/config", { topic: "dq", isAutoAck: "0", msgRetry: "1", msgTTR: "1" });
    // A DLQ must exist first: let one letter die (two deliveries with msgRetry 1), then read it.
    await declare(node, "dq", "k");
    await pushOk(node, "dq", "k", "doomed");
    for (let i = 0; i < 2; i++) {
      await popNow(node, "dq", "k");
      clock.advance(1000);
      node.scan();
    }
    const tcp = await RawTcp.open(node);
    tcp.send("dead dq k\ndead dq k\n");
    expect(JSON.parse(await tcp.expect(MESSAGE))).toMatchObject({ body: "doomed", retry_count: 2 });
    await tcp.expectQuiet(300);
    expect(node.topic("dq")!.deadQueues.k!.consumers).toBe(1);
  });
});

describe("ping (#14)", () => {
  it("gets no reply and kills the socket pingDeadlineMs after the last processed ping", async () => {
    const node = await startNode({ pingDeadlineMs: 300 });
    const tcp = await RawTcp.open(node);
    const started = Date.now();
    tcp.send("ping x\n");
    await sleep(200);
    tcp.send("ping again\n");
    await tcp.sync();
    await tcp.whenClosed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(tcp.frames.map((f) => f.type)).toEqual([RESULT]);
  });

  it("kills a popping socket: pings behind a blocked pop are never read", async () => {
    const node = await startNode({ pingDeadlineMs: 300, heartbeatMs: 100 });
    await declare(node, "pp", "k");
    const tcp = await RawTcp.open(node);
    tcp.send("ping 1\npop pp k\n");
    for (let i = 0; i < 4; i++) {
      await sleep(100);
      tcp.send("ping more\n");
    }
    await tcp.whenClosed;
    expect(tcp.frames.every((f) => f.type === PING)).toBe(true);
    await pushOk(node, "pp", "k", "nobody takes it");
    expect(node.topic("pp")!.queues.k!.unread).toBe(1);
  });
});
