import { type Client, createClient, type GmqError, type Message } from "gmq";
import { runTransportContract, waitFor } from "gmq/contract";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mqant } from "../adapters/mqant/index.js";
import {
  HandlerError,
  type MqantGate,
  type MqantModule,
  mapHandler,
  rawReply,
  startMqantGate,
} from "../adapters/testing/mqant/index.js";
import { recordScenario } from "./support/reliability.js";

/** Modules used across these tests, next to the demo Login / Chat / HelloWorld. */
let concurrent = 0;
let maxConcurrent = 0;
const testModules: MqantModule[] = [
  { type: "Echo", handlers: { HD_Echo: mapHandler((_session, args) => args) } },
  {
    type: "Slow",
    handlers: {
      HD_Wait: mapHandler(async () => {
        await new Promise((r) => setTimeout(r, 5_000));
        return "late";
      }),
      HD_Count: mapHandler(async (_session, args) => {
        maxConcurrent = Math.max(maxConcurrent, ++concurrent);
        await new Promise((r) => setTimeout(r, 30));
        concurrent--;
        return args.n;
      }),
      HD_Beyond: mapHandler(async () => {
        await new Promise((r) => setTimeout(r, 400));
        return "too late";
      }),
    },
  },
  {
    type: "Odd",
    handlers: {
      HD_Panic: mapHandler(() => {
        throw new Error("nil map");
      }),
      HD_Refuse: mapHandler(() => {
        throw new HandlerError("Not Logined");
      }),
      HD_Raw: mapHandler(() => rawReply(new Uint8Array([1, 2, 3]))),
      // Go []byte results travel as base64 strings in the envelope.
      HD_Bytes: mapHandler(() => new Uint8Array([0, 1, 254, 255])),
    },
  },
];

const startGate = (extra: Parameters<typeof startMqantGate>[0] = {}) =>
  startMqantGate({ modules: testModules, demo: true, rpcTimeoutMs: 200, ...extra });

for (const via of ["tcp", "ws"] as const) {
  let gate: MqantGate;
  runTransportContract(`mqant over ${via}`, {
    capabilities: mqant({ url: "ws://127.0.0.1:1/mqtt" }).capabilities,
    onScenario: recordScenario,
    reportsNoResponder: true,
    names: { topic: "Echo/HD_Notify", service: "Echo", method: "HD_Echo" },
    echo: { service: "Echo", method: "HD_Echo" },
    slow: { service: "Slow", method: "HD_Wait" },
    async setup() {
      gate = await startMqantGate({ modules: testModules, demo: true, rpcTimeoutMs: 10_000 });
      return {
        transport: () => mqant({ url: via === "tcp" ? gate.tcpUrl : gate.wsUrl }),
        teardown: () => gate.close(),
      };
    },
  });
}

describe("mqant specifics", () => {
  let gate: MqantGate;
  const clients: Client[] = [];
  const client = (url: string, extra: Partial<Parameters<typeof createClient>[0]> = {}, adapter = {}) => {
    const c = createClient({
      transport: mqant({ url, ...adapter }),
      reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
      ...extra,
    });
    c.on("error", () => {});
    clients.push(c);
    return c;
  };
  const codeAndReason = (e: unknown) => [(e as GmqError).code, (e as GmqError).reason];

  beforeAll(async () => {
    gate = await startGate({ replyJitterMs: 40 });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await gate.close();
  });

  it("matches replies that arrive out of order to their calls", async () => {
    const c = client(gate.wsUrl);
    const words = Array.from({ length: 30 }, (_, i) => `word${i}`);
    const replies = await Promise.all(words.map((say) => c.call("HelloWorld", "HD_Say", { say })));
    expect(replies).toEqual(words.map((w) => `you say : ${w}`));
  });

  it("maps each gate error onto a code with the mqant reason", async () => {
    const c = client(gate.tcpUrl);
    const outcomes = await Promise.all([
      c.call("Nope", "HD_x").catch(codeAndReason),
      c.call("Chat", "HD_Nope").catch(codeAndReason),
      c.call("Echo", "HD_Echo", new TextEncoder().encode("{not json}")).catch(codeAndReason),
      c.call("Slow", "HD_Beyond", {}).catch(codeAndReason),
      c.call("Odd", "HD_Refuse", {}).catch(codeAndReason),
      c.call("Chat", "HD_JoinChat", { roomName: "r" }).catch(codeAndReason),
    ]);
    expect(outcomes).toEqual([
      ["no_responder", "MODULE_NOT_FOUND"],
      ["no_responder", "HANDLER_NOT_FOUND"],
      ["invalid_argument", "BAD_JSON"],
      ["timeout", "SERVER_TIMEOUT"],
      ["remote", "APPLICATION"],
      ["remote", "APPLICATION"],
    ]);
    const panic = (await c.call("Odd", "HD_Panic", {}).catch((e) => e)) as GmqError;
    expect([panic.code, panic.reason]).toEqual(["remote", "SERVER_PANIC"]);
    expect(panic.message).toMatch(/^Odd rpc func\(HD_Panic\) error /);
    expect((panic.details as { stack: string }).stack).toContain("----Stack----");
    const login = (await c.call("Chat", "HD_JoinChat", { roomName: "r" }).catch((e) => e)) as GmqError;
    expect(login.message).toBe("必须先登录账号");
  });

  it("refuses locally what the gate would choke on", async () => {
    const c = client(gate.tcpUrl);
    await c.connect();
    const local = await Promise.all([
      c.call("Chat", "Say").catch((e: GmqError) => e.field),
      c.call("Echo", "HD_Echo", { big: "x".repeat(70_000) }).catch((e: GmqError) => e.code),
      c.publish("Chat", {}).catch((e: GmqError) => e.field),
    ]);
    expect(local).toEqual(["method", "payload_too_large", "topic"]);
  });

  it("a custom topic builder reaches the gate's topic rule", async () => {
    const c = client(gate.tcpUrl, {}, { topic: () => "NoSlashes" });
    expect(codeAndReason(await c.call("Echo", "HD_Echo", {}).catch((e) => e))).toEqual([
      "invalid_argument",
      "BAD_TOPIC",
    ]);
  });

  it("returns a raw (ProtocolMarshal) reply with the raw decoder", async () => {
    const { rawDecoder } = await import("../adapters/mqant/index.js");
    const { bytesCodec } = await import("gmq");
    const c = client(gate.tcpUrl, {}, { replyDecoder: rawDecoder });
    const args = new TextEncoder().encode("{}");
    const bytes = await c.call<Uint8Array>("Odd", "HD_Raw", args, { codec: bytesCodec });
    expect(Array.from(bytes)).toEqual([1, 2, 3]);
  });

  it("targets one node with Module@<id> and decodes Go []byte results on request", async () => {
    const c = client(gate.tcpUrl);
    const node = gate.nodeIds.Echo!;
    expect(node).toMatch(/^Echo@[0-9a-f]{16}$/);
    expect(await c.call(node, "HD_Echo", { via: "node id" })).toEqual({ via: "node id" });
    const { bytesCodec } = await import("gmq");
    const bytes = await c.call<Uint8Array>("Odd", "HD_Bytes", new TextEncoder().encode("{}"), {
      codec: bytesCodec,
      headers: { "mqant-result": "bytes" },
    });
    expect(Array.from(bytes)).toEqual([0, 1, 254, 255]);
  });

  it("never has more than maxInFlight requests at the gate; the rest wait their turn", async () => {
    maxConcurrent = 0;
    const c = client(gate.tcpUrl, {}, { maxInFlight: 5 });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, n) => c.call("Slow", "HD_Count", { n })),
    );
    expect(results).toEqual(Array.from({ length: 40 }, (_, n) => n));
    expect(maxConcurrent).toBe(5);
  });

  it("after a reconnect the app logs in again before queued work flushes", async () => {
    let logins = 0;
    const c = client(gate.wsUrl, {
      onConnect: async (session) => {
        logins++;
        await session.call("Login", "HD_Login", { userName: "ann", passWord: "x" });
      },
    });
    await c.connect();
    expect(await c.call("Chat", "HD_JoinChat", { roomName: "lobby" })).toEqual({ users: ["ann"] });
    const dropped = new Promise<void>((resolve) => c.once("state", () => resolve()));
    gate.dropAll();
    await dropped;
    // Issued while the new session is still anonymous: it must wait for the re-login.
    const joined = await c.call("Chat", "HD_JoinChat", { roomName: "lobby" }, { timeoutMs: 5_000 });
    expect(joined).toEqual({ users: ["ann"] });
    expect(logins).toBe(2);
  });

  it("a gate that closes on an oversize packet makes the call fail `disconnected` and the client reconnect", async () => {
    const small = await startGate({ maxPackSize: 1_000 });
    try {
      const c = client(small.tcpUrl);
      await c.connect();
      const failure = (await c
        .call("Echo", "HD_Echo", { pad: "x".repeat(2_000) })
        .catch((e) => e)) as GmqError;
      expect(failure.code).toBe("disconnected");
      await waitFor(() => c.state === "connected", 5_000, "the reconnect");
      expect(await c.call("Echo", "HD_Echo", { ok: true })).toEqual({ ok: true });
    } finally {
      await small.close();
    }
  });

  it("runs the demo chat end to end: both members receive Chat/OnChat", async () => {
    const login = (name: string) => ({
      onConnect: async (session: { call: Client["call"] }) => {
        await session.call("Login", "HD_Login", { userName: name, passWord: "pw" });
      },
    });
    const ann = client(gate.wsUrl, login("ann"));
    const bob = client(gate.tcpUrl, login("bob"));
    const heard: Record<string, Message<Record<string, string>>[]> = { ann: [], bob: [] };
    const joins: unknown[] = [];
    ann.subscribe<Record<string, string>>("Chat/OnChat", (m) => {
      heard.ann!.push(m);
    });
    bob.subscribe<Record<string, string>>("Chat/OnChat", (m) => {
      heard.bob!.push(m);
    });
    ann.subscribe("Chat/OnJoin", (m) => {
      joins.push(m.data);
    });
    await Promise.all([ann.connect(), bob.connect()]);
    await ann.call("Chat", "HD_JoinChat", { roomName: "room1" });
    const joined = await bob.call<{ users: string[] }>("Chat", "HD_JoinChat", { roomName: "room1" });
    expect(joined.users.sort()).toEqual(["ann", "bob"]);
    await waitFor(() => joins.length === 1);
    expect(joins[0]).toEqual({ roomName: "room1", user: "bob" });
    const said = await ann.call("Chat", "HD_Say", {
      roomName: "room1",
      content: "hello",
      from: "ann",
      target: "*",
    });
    expect(said).toEqual({ say: "say success" });
    await waitFor(() => heard.ann!.length === 1 && heard.bob!.length === 1);
    for (const who of ["ann", "bob"]) {
      expect(heard[who]![0]!.data).toEqual({ from: "ann", msg: "hello", roomName: "room1", target: "*" });
      // The bytes are Go's: keys sorted, compact.
      expect(new TextDecoder().decode(heard[who]![0]!.payload)).toBe(
        '{"from":"ann","msg":"hello","roomName":"room1","target":"*"}',
      );
    }
  });

  it("rejects bad adapter options at once, naming the field", () => {
    const field = (work: () => unknown) => {
      try {
        work();
      } catch (error) {
        return (error as GmqError).field;
      }
      return "no error";
    };
    expect(field(() => mqant({ url: "http://x" }))).toBe("url");
    expect(field(() => mqant({ url: "ws://x", clientId: "" }))).toBe("clientId");
    expect(field(() => mqant({ url: "ws://x", keepaliveSeconds: 60 }))).toBe("keepaliveSeconds");
    expect(field(() => mqant({ url: "ws://x", maxInFlight: 21 }))).toBe("maxInFlight");
    expect(field(() => mqant({ url: "ws://x", protocol: "5" as "3.1" }))).toBe("protocol");
  });
});
