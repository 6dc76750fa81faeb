/**
 * gnode emulator, routing and ids (checklist §7.1 #5–6): the empty route key, mode 1 equality,
 * mode 2 RE2 search (unanchored, `default` included, invalid patterns match nothing), fan-out
 * copies sharing one id, and 64-bit snowflake ids as decimal strings.
 */

import { createManualClock, idTimeMs, SNOWFLAKE_EPOCH_MS } from "gmq/testing";
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
  RESULT,
  startNode,
} from "./support/gnode-wire.js";

/** The bind keys a route key reaches, found by pushing once and popping every queue. */
async function reached(
  node: Awaited<ReturnType<typeof startNode>>,
  topic: string,
  keys: string[],
  routeKey: string,
): Promise<string[] | string> {
  const r = await push(node, { topic, route_key: routeKey, body: routeKey });
  if (r.code !== 0) return r.msg;
  const hit: string[] = [];
  for (const k of keys) {
    const stat = node.topic(topic)!.queues[k]!;
    if (stat.unread > 0) {
      hit.push(k);
      await popNow(node, topic, k);
    }
  }
  return hit;
}

describe("the empty route key (#5)", () => {
  it("goes to default, created on first need, in both modes, and never fails", async () => {
    const node = await startNode();
    for (const mode of ["1", "2"]) {
      const topic = `empty${mode}`;
      await config(node, topic, { mode });
      expect(node.topic(topic)!.queues).toEqual({});
      const id = await pushOk(node, topic, "", "e");
      expect(Object.keys(node.topic(topic)!.queues)).toEqual(["default"]);
      expect(await popNow(node, topic, "default")).toEqual({ id, body: "e", retry_count: 0 });
      await pushOk(node, topic, "", "again");
      expect(node.topic(topic)!.queues.default!.unread).toBe(1);
    }
  });
});

describe("mode 1 (#5)", () => {
  it("routes only to the bind key equal to the route key; patterns are plain text", async () => {
    const node = await startNode();
    await config(node, "full", { mode: "1" });
    await declare(node, "full", "home", "homework", "a.c");
    expect(await reached(node, "full", ["home", "homework", "a.c"], "home")).toEqual(["home"]);
    expect(await reached(node, "full", ["home", "homework", "a.c"], "a.c")).toEqual(["a.c"]);
    expect(await reached(node, "full", ["home", "homework", "a.c"], "abc")).toBe(
      "routeKey:abc is not match with queue, the mode is 1",
    );
    expect(await reached(node, "full", ["home"], "^home$")).toBe(
      "routeKey:^home$ is not match with queue, the mode is 1",
    );
  });
});

describe("mode 2 (#5)", () => {
  const keys = ["home", "homework", "myhome", "default", "abc", "a.c", "ORDERS", "x1"];

  it("searches the pattern unanchored in every bind key, default included", async () => {
    const node = await startNode();
    await declare(node, "fz", ...keys);
    const cases: Array<[string, string[] | string]> = [
      ["home", ["home", "homework", "myhome"]],
      ["^home$", ["home"]],
      ["^a.c$", ["abc", "a.c"]],
      ["^a\\.c$", ["a.c"]],
      ["e", ["home", "homework", "myhome", "default"]],
      ["work|fault", ["homework", "default"]],
      ["^x\\d$", ["x1"]],
      ["orders", "routeKey:orders is not match with queue, the mode is 2"],
    ];
    for (const [routeKey, expected] of cases) {
      expect([routeKey, await reached(node, "fz", keys, routeKey)]).toEqual([routeKey, expected]);
    }
  });

  it("matches nothing for patterns RE2 rejects: bad syntax, lookarounds, backreferences", async () => {
    const node = await startNode();
    await declare(node, "bad", ...keys);
    for (const routeKey of [
      "(",
      "[a",
      "*x",
      "a{2",
      "(?=h)",
      "(?!x)",
      "(?<=m)y",
      "(?<!z)home",
      "(h)\\1",
      "\\k<n>",
      "\\8",
      "\\cA",
      "\\u0068",
    ]) {
      expect([routeKey, await reached(node, "bad", keys, routeKey)]).toEqual([
        routeKey,
        `routeKey:${routeKey} is not match with queue, the mode is 2`,
      ]);
    }
    expect(node.topic("bad")!.queues.home!.unread).toBe(0);
  });

  it("understands RE2 forms that JS spells differently", async () => {
    const node = await startNode();
    const withBrace = [...keys, "ab{,2}c"];
    await declare(node, "re2", ...withBrace);
    const cases: Array<[string, string[]]> = [
      ["(?i)^orders$", ["ORDERS"]],
      ["\\Ahome\\z", ["home"]],
      ["^[[:digit:][:alpha:]]+$", ["home", "homework", "myhome", "default", "abc", "ORDERS", "x1"]],
      ["\\Q.\\E", ["a.c"]],
      ["^(?P<w>my)home$", ["myhome"]],
      ["^x\\x{31}$", ["x1"]],
      ["^a\\pLc$", ["abc"]],
      ["^[]a]\\.c", ["a.c"]],
      ["ork{1}", ["homework"]],
      ["^ab{,2}c$", ["ab{,2}c"]],
      ["^ab{1}c$", ["abc"]],
      ["^b{1001}$", []],
    ];
    for (const [routeKey, expected] of cases) {
      const got = await reached(node, "re2", withBrace, routeKey);
      expect([routeKey, got]).toEqual([
        routeKey,
        expected.length > 0 ? expected : `routeKey:${routeKey} is not match with queue, the mode is 2`,
      ]);
    }
  });

  it("copies a push into every matching queue, all copies sharing one id", async () => {
    const node = await startNode();
    await declare(node, "fan", "orders.created", "orders.paid", "audit");
    const id = await pushOk(node, "fan", "^orders\\.", "fanned");
    expect(await popNow(node, "fan", "orders.created")).toEqual({ id, body: "fanned", retry_count: 0 });
    expect(await popNow(node, "fan", "orders.paid")).toEqual({ id, body: "fanned", retry_count: 0 });
    expect(node.topic("fan")!.queues.audit!.unread).toBe(0);
    expect(node.topic("fan")!.pushNum).toBe(2);
  });

  it("stores nothing when nothing matches", async () => {
    const node = await startNode();
    await declare(node, "none", "a");
    expect((await push(node, { topic: "none", route_key: "b", body: "x" })).code).toBe(1);
    expect(node.topic("none")!.queues.a!.num).toBe(0);
    expect(node.topic("none")!.pushNum).toBe(0);
  });
});

describe("ids (#6)", () => {
  it("are decimal strings above 2^53 that strictly increase and carry the node id and push time", async () => {
    const clock = createManualClock(1_754_000_000_123);
    const node = await startNode({ nodeId: 937, clock });
    await declare(node, "ids", "k");
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push(await pushOk(node, "ids", "k", `m${i}`));
    for (const id of ids) {
      expect(id).toMatch(/^[1-9][0-9]{18}$/);
      expect(BigInt(id) > 2n ** 53n).toBe(true);
      expect((BigInt(id) >> 12n) & 1023n).toBe(937n);
      expect(idTimeMs(id)).toBe(1_754_000_000_123);
    }
    for (let i = 1; i < ids.length; i++) expect(BigInt(ids[i]!) > BigInt(ids[i - 1]!)).toBe(true);
    // 50 ids in one frozen millisecond: sequence numbers 0..49.
    expect(ids.map((id) => Number(BigInt(id) & 4095n))).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const expected = ((1_754_000_000_123n - BigInt(SNOWFLAKE_EPOCH_MS)) << 22n) | (937n << 12n);
    expect(ids[0]).toBe(expected.toString());
    expect((await popNow(node, "ids", "k")).id).toBe(ids[0]);
  });

  it("keep increasing past 4096 ids in one millisecond and when the clock goes back", async () => {
    const clock = createManualClock(1_754_000_000_000);
    const node = await startNode({ clock });
    const tcp = await RawTcp.open(node);
    await tcp.declare("many", "k");
    const count = 1000;
    const batches: string[] = [];
    for (let b = 0; b < 5; b++) {
      tcp.send(
        `mpub many ${count}\n`,
        ...Array.from({ length: count }, () => itemJson({ body: "x", route_key: "k" })),
      );
      batches.push(await tcp.expect(RESULT));
    }
    clock.set(1_753_000_000_000);
    tcp.send(`mpub many 1\n`, itemJson({ body: "x", route_key: "k" }));
    batches.push(await tcp.expect(RESULT));
    const ids = batches.flatMap((t) => t.match(/\d+/g)!).map(BigInt);
    expect(ids).toHaveLength(5 * count + 1);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("are written as text in the mpub array, digit for digit", async () => {
    const node = await startNode();
    const tcp = await RawTcp.open(node);
    await tcp.declare("arr", "k");
    tcp.send(
      "mpub arr 3\n",
      itemJson({ body: "a", route_key: "k" }),
      itemJson({ body: "b", route_key: "k" }),
      itemJson({ body: "c", route_key: "k" }),
    );
    const text = await tcp.expect(RESULT);
    expect(text).toMatch(/^\[\d{19},\d{19},\d{19}\]$/);
    const ids = text.match(/\d+/g)!;
    for (const [i, body] of ["a", "b", "c"].entries()) {
      tcp.send("pop arr k\n");
      expect(JSON.parse(await tcp.expect(MESSAGE))).toEqual({ id: ids[i], body, retry_count: 0 });
    }
    expect(await api(node, "/ack", { msgId: ids[0]!, topic: "arr", bindKey: "k" })).toMatchObject({
      msg: `msgId:${ids[0]} is not exist.`,
    });
  });
});

function itemJson(v: unknown): Buffer {
  const bytes = Buffer.from(JSON.stringify(v));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}
