/**
 * Routing, payload classification, envelope, timeouts and handler outcomes
 * (spec §3, checklist items 15–19 and 21), over raw TCP.
 */

import { afterEach, describe, expect, it } from "vitest";
import {
  bytesHandler,
  HandlerError,
  type MqantGate,
  type MqantGateOptions,
  mapHandler,
  rawReply,
  reply,
  startMqantGate,
} from "../adapters/testing/mqant/index.js";
import { Cleanup, PINGREQ, publishPacket, RawClient, sleep, text } from "./mqant-gate-helpers.js";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const TOPIC_ERROR = "Topic must be [moduleType@moduleID]/[handler]|[moduleType@moduleID]/[handler]/[msgid]";

/** Calls seen by the Probe module, to tell "dropped" from "called without reply". */
const calls: Array<{ handler: string; args: unknown }> = [];

const probe = {
  type: "Probe",
  handlers: {
    HD_Map: mapHandler((_s, m) => {
      calls.push({ handler: "HD_Map", args: m });
      return m;
    }),
    HD_Bytes: bytesHandler((_s, b) => {
      calls.push({ handler: "HD_Bytes", args: Array.from(b) });
      return b;
    }),
    HD_Shapes: mapHandler(() => ({
      z: 1,
      a: "<b>&</b>",
      m: new Map<string, unknown>([
        ["y", true],
        ["x", null],
      ]),
      bytes: Uint8Array.of(1, 2, 3, 250),
      list: [1.5, "é", -0],
      big: 12345678901234567890n,
      sep: "\u2028",
      ctl: "\n\t\u0001",
      skipped: undefined,
    })),
    HD_Session: mapHandler((session) => session),
    HD_Nothing: mapHandler(() => undefined),
    HD_NaN: mapHandler(() => Number.NaN),
    HD_Raw: bytesHandler(() => rawReply("not json at all")),
    HD_Both: mapHandler(() => reply({ partial: 1 }, "half done")),
    HD_ThrowString: mapHandler(() => {
      throw "Not Logined";
    }),
    HD_ThrowHandlerError: mapHandler(() => {
      throw new HandlerError("app error", [1]);
    }),
    HD_Panic: mapHandler(() => {
      throw new Error("kaboom");
    }),
    HD_Delay: mapHandler(async (_s, m) => {
      await sleep(Number(m.ms));
      return m.tag;
    }),
  },
};

async function gate(o: MqantGateOptions = {}): Promise<MqantGate> {
  calls.length = 0;
  return cleanup.add(await startMqantGate({ timeScale: 0.05, modules: [probe], demo: true, ...o }));
}

async function client(g: MqantGate): Promise<RawClient> {
  const c = cleanup.add(await RawClient.tcp(g.tcpPort));
  await c.connect();
  return c;
}

/** Send a PINGREQ and wait for its PINGRESP: everything the server wrote earlier has arrived. */
async function settle(c: RawClient): Promise<void> {
  await sleep(20);
  c.send(PINGREQ);
  await c.waitFor((p) => p.type === 13);
}

describe("topic grammar (item 15)", () => {
  it("answers a one-part topic with the Topic error, always, Result null", async () => {
    const c = await client(await gate());
    const r = await c.request("HelloWorld", { say: "x" });
    expect(r.raw).toBe(`{"Trace":"${r.Trace}","Error":"${TOPIC_ERROR}","Result":null}`);
  });

  it("treats two parts, an empty msgid and four or more parts as notifies (called, never answered)", async () => {
    const g = await gate();
    const c = await client(g);
    for (const topic of ["Probe/HD_Map", "Probe/HD_Map/", "Probe/HD_Map/1/2", "Probe/HD_Map/a/b/c"]) {
      c.send(publishPacket(topic, '{"t":1}'));
    }
    await settle(c);
    expect(calls).toHaveLength(4);
    expect(c.packets.filter((p) => p.type === 3)).toHaveLength(0);
  });

  it("lets a leading slash break routing (4 parts, empty module: dropped)", async () => {
    const c = await client(await gate());
    c.send(publishPacket("/Probe/HD_Map/1", "{}"));
    await settle(c);
    expect(calls).toHaveLength(0);
    expect(c.packets.filter((p) => p.type === 3)).toHaveLength(0);
  });

  it("requires the HD_ prefix: error for a request, silent drop for a notify", async () => {
    const c = await client(await gate());
    expect((await c.request("Probe/Map/1", {})).Error).toBe("Method(Map) must begin with 'HD_'");
    c.send(publishPacket("Probe/Handler_Map", "{}"));
    await settle(c);
    expect(c.publishesOn("Probe/Handler_Map")).toHaveLength(0);
    expect(calls).toHaveLength(0);
  });

  it("reports unknown modules for requests and drops them for notifies", async () => {
    const c = await client(await gate());
    const r = await c.request("Nope/HD_X/1", {});
    expect(r).toMatchObject({ Error: "Service(type:Nope) not found", Result: null });
    c.send(publishPacket("Nope/HD_X", "{}"));
    await settle(c);
    expect(c.publishesOn("Nope/HD_X")).toHaveLength(0);
  });

  it("reports unknown handlers as `Remote function(<h>) not found`", async () => {
    const c = await client(await gate());
    expect(await c.request("Probe/HD_Nope/1", {})).toMatchObject({
      Error: "Remote function(HD_Nope) not found",
      Result: null,
    });
  });

  it("targets nodes by random `Type@<16 hex>` id; `Type@` means by type; unknown ids are not found", async () => {
    const g = await gate();
    const other = await gate();
    expect(g.nodeIds.Probe).toMatch(/^Probe@[0-9a-f]{16}$/);
    expect(g.nodeIds.HelloWorld).toMatch(/^HelloWorld@[0-9a-f]{16}$/);
    expect(other.nodeIds.Probe).not.toBe(g.nodeIds.Probe);
    const c = await client(g);
    expect((await c.request(`${g.nodeIds.HelloWorld}/HD_Say/1`, { say: "n" })).Result).toBe("you say : n");
    expect((await c.request("HelloWorld@/HD_Say/2", { say: "t" })).Result).toBe("you say : t");
    expect((await c.request(`${other.nodeIds.HelloWorld}/HD_Say/3`, { say: "x" })).Error).toBe(
      `Service(type:${other.nodeIds.HelloWorld}) not found`,
    );
    expect((await c.request("HelloWorld001/HD_Say/4", { say: "x" })).Error).toBe(
      "Service(type:HelloWorld001) not found",
    );
  });
});

describe("payload classification (item 16)", () => {
  it("rejects a `{…}` payload that is not JSON, without calling the handler", async () => {
    const c = await client(await gate());
    expect(await c.request("Probe/HD_Map/1", "{not json}")).toMatchObject({
      Error: "The JSON format is incorrect",
      Result: null,
    });
    expect(calls).toHaveLength(0);
  });

  it("forwards JSON objects as maps, with numbers as float64", async () => {
    const c = await client(await gate());
    const r = await c.request("Probe/HD_Map/1", '{"n":9007199254740993,"s":"x"}');
    expect(calls[0]!.args).toEqual({ n: 9007199254740992, s: "x" });
    expect(r.raw).toContain('"Result":{"n":9007199254740992,"s":"x"}');
  });

  it("forwards anything else as bytes, verbatim", async () => {
    const c = await client(await gate());
    const payload = Uint8Array.of(0x00, 0xff, 0x7b, 0x0a);
    const r = await c.request("Probe/HD_Bytes/1", payload);
    expect(calls[0]!.args).toEqual([0, 255, 123, 10]);
    expect(r.Result).toBe(Buffer.from(payload).toString("base64"));
  });

  it("gives a stack-style error for a map sent to a bytes handler", async () => {
    const c = await client(await gate());
    const r = await c.request("Probe/HD_Bytes/1", '{"a":1}');
    expect(r.Error).toMatch(
      /^Probe rpc func\(HD_Bytes\) error reflect: Call using map\[string\]interface \{\} as type \[\]uint8\n ----Stack----\n/,
    );
    expect(r.Result).toBeNull();
  });

  it("gives a stack-style error for non-object bytes sent to a map handler", async () => {
    const c = await client(await gate());
    for (const payload of ["[1,2]", '"str"', "hello"]) {
      const r = await c.request("Probe/HD_Map/1", payload);
      expect(r.Error).toMatch(
        /^Probe rpc func\(HD_Map\) error reflect: Call using \[\]uint8 as type map\[string\]interface \{\}\n ----Stack----\n/,
      );
    }
    expect(calls).toHaveLength(0);
  });

  it("accepts bytes that happen to parse as an object (or null) in a map handler", async () => {
    const c = await client(await gate());
    expect((await c.request("Probe/HD_Map/1", '{"a":1}\n')).Result).toEqual({ a: 1 });
    expect((await c.request("Probe/HD_Map/2", ' {"b":2}')).Result).toEqual({ b: 2 });
    expect((await c.request("Probe/HD_Map/3", "null")).Error).toBe("");
    expect(calls).toHaveLength(3);
  });
});

describe("envelope and results (items 17, 21)", () => {
  it("writes compact JSON in the order Trace, Error, Result with Go escaping", async () => {
    const c = await client(await gate());
    const r = await c.request("HelloWorld/HD_Say/1", { say: "<b>&</b> é" });
    expect(r.Trace).toMatch(/^[0-9a-f]{16}$/);
    expect(r.raw).toBe(
      `{"Trace":"${r.Trace}","Error":"","Result":"you say : \\u003cb\\u003e\\u0026\\u003c/b\\u003e é"}`,
    );
  });

  it("keeps one Trace per connection, a different one per connection", async () => {
    const g = await gate();
    const a = await client(g);
    const b = await client(g);
    const traces = [
      (await a.request("Probe/HD_Map/1", {})).Trace,
      (await a.request("Probe/HD_Map/2", {})).Trace,
      (await a.request("Nope/HD_X/3", {})).Trace,
    ];
    expect(new Set(traces).size).toBe(1);
    expect((await b.request("Probe/HD_Map/1", {})).Trace).not.toBe(traces[0]);
  });

  it("encodes results like Go: sorted keys, base64 bytes, escapes, -0, int64", async () => {
    const c = await client(await gate());
    const r = await c.request("Probe/HD_Shapes/1", {});
    const result =
      '{"a":"\\u003cb\\u003e\\u0026\\u003c/b\\u003e","big":12345678901234567890,"bytes":"AQID+g==",' +
      '"ctl":"\\n\\t\\u0001","list":[1.5,"é",-0],"m":{"x":null,"y":true},"sep":"\\u2028","z":1}';
    expect(r.raw).toBe(`{"Trace":"${r.Trace}","Error":"","Result":${result}}`);
  });

  it("encodes a returned session as {}, nothing as null, NaN as a json error", async () => {
    const c = await client(await gate());
    expect((await c.request("Probe/HD_Session/1", {})).raw).toMatch(/"Error":"","Result":\{\}\}$/);
    expect((await c.request("Probe/HD_Nothing/1", {})).raw).toMatch(/"Error":"","Result":null\}$/);
    expect(await c.request("Probe/HD_NaN/1", {})).toMatchObject({
      Error: "json: unsupported value: NaN",
      Result: null,
    });
  });

  it("sends a ProtocolMarshal reply as the whole payload, with no envelope", async () => {
    const c = await client(await gate());
    c.send(publishPacket("Probe/HD_Raw/1", "xy"));
    expect(text((await c.publishOn("Probe/HD_Raw/1")).payload!)).toBe("not json at all");
  });

  it("passes application errors through, with Result kept when the handler set one", async () => {
    const c = await client(await gate());
    expect(await c.request("Probe/HD_Both/1", {})).toMatchObject({
      Error: "half done",
      Result: { partial: 1 },
    });
    expect(await c.request("Probe/HD_ThrowString/1", {})).toMatchObject({
      Error: "Not Logined",
      Result: null,
    });
    expect(await c.request("Probe/HD_ThrowHandlerError/1", {})).toMatchObject({
      Error: "app error",
      Result: [1],
    });
  });

  it("turns a thrown Error into `<Type> rpc func(<h>) error <text>\\n ----Stack----\\n<≤1 KiB>`", async () => {
    const c = await client(await gate());
    const r = await c.request("Probe/HD_Panic/1", {});
    const [head, stack] = r.Error.split("\n ----Stack----\n");
    expect(head).toBe("Probe rpc func(HD_Panic) error kaboom");
    expect(stack).toMatch(/^goroutine \d+ \[running\]:\n/);
    expect(Buffer.byteLength(stack!, "utf8")).toBeLessThanOrEqual(1024 + 3); // a cut rune becomes U+FFFD
    expect(r.Result).toBeNull();
  });
});

describe("concurrency and timeouts (items 18, 19)", () => {
  it("answers each request on its own topic as soon as it is done (out of order)", async () => {
    const c = await client(await gate({ rpcTimeoutMs: 2000 }));
    c.send(publishPacket("Probe/HD_Delay/slow", '{"ms":80,"tag":"slow"}'));
    c.send(publishPacket("Probe/HD_Delay/fast", '{"ms":1,"tag":"fast"}'));
    await c.publishOn("Probe/HD_Delay/slow");
    expect(c.packets.filter((p) => p.type === 3).map((p) => p.topic)).toEqual([
      "Probe/HD_Delay/fast",
      "Probe/HD_Delay/slow",
    ]);
  });

  it("shuffles replies with replyJitterMs", async () => {
    const c = await client(await gate({ replyJitterMs: 30 }));
    for (let i = 1; i <= 20; i++) c.send(publishPacket(`Probe/HD_Map/${i}`, "{}"));
    await Promise.all(Array.from({ length: 20 }, (_, i) => c.publishOn(`Probe/HD_Map/${i + 1}`)));
    const order = c.packets.filter((p) => p.type === 3).map((p) => Number(p.topic!.split("/")[2]));
    expect(order).toHaveLength(20);
    expect(order).not.toEqual([...order].sort((x, y) => x - y));
  });

  it("v1.2.0 times out after 1 s (scaled) with `deadline exceeded`, and drops the late result", async () => {
    const c = await client(await gate({ profile: "v1.2.0", timeScale: 0.05 })); // 50 ms
    const r = await c.request("Probe/HD_Delay/1", { ms: 150, tag: "late" });
    expect(r.raw).toBe(`{"Trace":"${r.Trace}","Error":"deadline exceeded","Result":null}`);
    await sleep(200);
    expect(c.publishesOn("Probe/HD_Delay/1")).toHaveLength(1);
  });

  it("master waits 10 s (scaled): the same call that times out on v1.2.0 succeeds", async () => {
    const v1 = await client(await gate({ profile: "v1.2.0", timeScale: 0.02 })); // 20 ms
    const ma = await client(await gate({ profile: "master", timeScale: 0.02 })); // 200 ms
    const slow = { ms: 60, tag: "ok" };
    expect((await v1.request("Probe/HD_Delay/1", slow)).Error).toBe("deadline exceeded");
    expect(await ma.request("Probe/HD_Delay/1", slow)).toMatchObject({ Error: "", Result: "ok" });
  });

  it("lets rpcTimeoutMs override the profile's timeout", async () => {
    const c = await client(await gate({ profile: "master", timeScale: 1, rpcTimeoutMs: 30 }));
    expect((await c.request("Probe/HD_Delay/1", { ms: 100, tag: "x" })).Error).toBe("deadline exceeded");
  });

  it("answers notifies never, not even after a timeout", async () => {
    const c = await client(await gate({ timeScale: 0.01 }));
    c.send(publishPacket("Probe/HD_Delay", '{"ms":30,"tag":"x"}'));
    await sleep(60);
    await settle(c);
    expect(c.publishesOn("Probe/HD_Delay")).toHaveLength(0);
  });
});
