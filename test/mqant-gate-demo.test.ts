/**
 * The mqantserver demo modules (spec §6; checklist item 24), driven by raw clients.
 */

import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { type MqantGate, type MqantGateOptions, startMqantGate } from "../adapters/testing/mqant/index.js";
import { Cleanup, PINGREQ, RawClient, sleep, text } from "./mqant-gate-helpers.js";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function gate(o: MqantGateOptions = {}): Promise<MqantGate> {
  // A generous RPC timeout keeps a loaded test machine from turning JoinChat into `deadline exceeded`.
  return cleanup.add(await startMqantGate({ timeScale: 0.05, rpcTimeoutMs: 3000, ...o }));
}

let msgid = 0;

async function user(g: MqantGate, name?: string): Promise<RawClient> {
  const c = cleanup.add(await RawClient.tcp(g.tcpPort));
  await c.connect({ clientId: "111" }); // the demo page uses "111" for everyone
  if (name !== undefined) {
    const r = await c.request(`Login/HD_Login/${++msgid}`, { userName: name, passWord: "pw" });
    expect(r).toMatchObject({ Error: "", Result: `login success ${name}` });
  }
  return c;
}

const call = (c: RawClient, topic: string, body: object) => c.request(`${topic}/${++msgid}`, body);

describe("Login and HelloWorld", () => {
  it("logs in without checking the password", async () => {
    const g = await gate();
    await user(g, "alice");
    expect(g.sessions()[0]!.userId).toBe("alice");
    expect(g.sessions()[0]!.settings).toEqual({ login: "true" });
  });

  it("returns the missing-field text as a Result with an empty Error", async () => {
    const c = await user(await gate());
    for (const body of [{ userName: "a" }, { passWord: "p" }, { userName: null, passWord: "p" }]) {
      const r = await call(c, "Login/HD_Login", body);
      expect(r.raw).toBe(`{"Trace":"${r.Trace}","Error":"","Result":"userName or passWord cannot be nil"}`);
    }
  });

  it("panics on a non-string userName", async () => {
    const c = await user(await gate());
    const r = await call(c, "Login/HD_Login", { userName: 42, passWord: "p" });
    expect(r.Error).toMatch(
      /^Login rpc func\(HD_Login\) error interface conversion: interface \{\} is float64, not string\n ----Stack----\n/,
    );
  });

  it("lets an empty userName 'succeed' while the session stays a guest", async () => {
    const g = await gate();
    const c = await user(g);
    expect((await call(c, "Login/HD_Login", { userName: "", passWord: "p" })).Result).toBe("login success ");
    expect((await call(c, "Chat/HD_JoinChat", { roomName: "r" })).Error).toBe("必须先登录账号");
  });

  it("HelloWorld says back, or reports the missing field as a Result", async () => {
    const c = await user(await gate());
    expect((await call(c, "HelloWorld/HD_Say", { say: "hi" })).Result).toBe("you say : hi");
    expect(await call(c, "HelloWorld/HD_Say", {})).toMatchObject({ Error: "", Result: "say cannot be nil" });
  });
});

describe("Chat", () => {
  it("refuses every Chat call from a guest with 必须先登录账号, after the handler lookup", async () => {
    const c = await user(await gate());
    for (const h of ["HD_JoinChat", "HD_Say"]) {
      const r = await call(c, `Chat/${h}`, { roomName: "r" });
      expect(r.raw).toBe(`{"Trace":"${r.Trace}","Error":"必须先登录账号","Result":null}`);
    }
    expect((await call(c, "Chat/HD_Nope", {})).Error).toBe("Remote function(HD_Nope) not found");
  });

  it("runs the whole chat flow between two raw clients", async () => {
    const g = await gate();
    const alice = await user(g, "alice");
    const bob = await user(g, "bob");

    expect(await call(alice, "Chat/HD_JoinChat", { roomName: "lobby" })).toMatchObject({
      Error: "",
      Result: { users: ["alice"] },
    });
    const bobJoin = await call(bob, "Chat/HD_JoinChat", { roomName: "lobby" });
    expect((bobJoin.Result as { users: string[] }).users.sort()).toEqual(["alice", "bob"]);
    // OnJoin goes to every other member only, keys sorted.
    expect(text((await alice.publishOn("Chat/OnJoin")).payload!)).toBe('{"roomName":"lobby","user":"bob"}');
    expect(bob.publishesOn("Chat/OnJoin")).toHaveLength(0);

    // Say to "*": everybody, sender included; `from` in the request is ignored.
    const say = await call(bob, "Chat/HD_Say", {
      roomName: "lobby",
      content: "hi <all>",
      from: "mallory",
      target: "*",
    });
    expect(say.raw).toBe(`{"Trace":"${say.Trace}","Error":"","Result":{"say":"say success"}}`);
    const onChat = '{"from":"bob","msg":"hi \\u003call\\u003e","roomName":"lobby","target":"*"}';
    expect(text((await alice.publishOn("Chat/OnChat")).payload!)).toBe(onChat);
    expect(text((await bob.publishOn("Chat/OnChat")).payload!)).toBe(onChat);

    // Private: only the target gets it, the sender gets no copy.
    expect(
      (await call(alice, "Chat/HD_Say", { roomName: "lobby", content: "psst", from: "alice", target: "bob" }))
        .Result,
    ).toEqual({ say: "say success" });
    expect(text((await bob.publishOn("Chat/OnChat")).payload!)).toBe(
      '{"from":"alice","msg":"psst","roomName":"lobby","target":"bob"}',
    );
    bob.send(PINGREQ);
    await bob.waitFor((p) => p.type === 13);
    alice.send(PINGREQ);
    await alice.waitFor((p) => p.type === 13);
    expect(alice.publishesOn("Chat/OnChat")).toHaveLength(1);
  });

  it("pushes OnJoin before the JoinChat reply and OnChat before the Say reply", async () => {
    const g = await gate();
    const alice = await user(g, "alice");
    await call(alice, "Chat/HD_JoinChat", { roomName: "r" });
    const r = await call(alice, "Chat/HD_Say", { roomName: "r", content: "me", target: "alice" });
    expect(r.Error).toBe("");
    const pubs = alice.packets.filter((p) => p.type === 3).map((p) => p.topic);
    expect(pubs.slice(-2)).toEqual(["Chat/OnChat", `Chat/HD_Say/${msgid}`]);
  });

  it("reports the Say and JoinChat errors with the demo's exact strings", async () => {
    const g = await gate();
    const alice = await user(g, "alice");
    const carol = await user(g, "carol");
    await call(alice, "Chat/HD_JoinChat", { roomName: "r" });
    const say = (c: RawClient, body: object) => call(c, "Chat/HD_Say", body);
    expect((await say(alice, { roomName: "r" })).Error).toBe("roomName or say cannot be nil");
    expect((await say(alice, { content: "x" })).Error).toBe("roomName or say cannot be nil");
    expect((await say(alice, { roomName: "none", content: "x", target: "*" })).Error).toBe("No room");
    expect((await say(carol, { roomName: "r", content: "x", target: "*" })).Error).toBe(
      "You haven't been in the room yet",
    );
    expect((await say(alice, { roomName: "r", content: "x", target: "dave" })).Error).toBe(
      "This user haven't been in the room yet",
    );
    expect((await say(alice, { roomName: "r", content: "x" })).Error).toMatch(
      /^Chat rpc func\(HD_Say\) error interface conversion: interface \{\} is nil, not string\n ----Stack----\n/,
    );
    expect(await call(alice, "Chat/HD_JoinChat", { roomName: "" })).toMatchObject({
      Error: "roomName cannot be nil",
      Result: null,
    });
    expect((await call(alice, "Chat/HD_JoinChat", {})).Error).toMatch(
      /^Chat rpc func\(HD_JoinChat\) error interface conversion: interface \{\} is nil, not string\n/,
    );
    expect((await call(alice, "Chat/HD_JoinChat", { roomName: 7 })).Error).toMatch(/is float64, not string/);
  });

  it("leaves lazily: a failed private send reports `The user has left the room` and pushes OnLeave", async () => {
    const g = await gate();
    const alice = await user(g, "alice");
    const bob = await user(g, "bob");
    const carol = await user(g, "carol");
    for (const c of [alice, bob, carol]) await call(c, "Chat/HD_JoinChat", { roomName: "r" });

    carol.close();
    await carol.closed;
    await sleep(20);
    // Nothing happens on disconnect by itself.
    expect(alice.publishesOn("Chat/OnLeave")).toHaveLength(0);

    const r = await call(alice, "Chat/HD_Say", { roomName: "r", content: "hey", target: "carol" });
    expect(r).toMatchObject({ Error: "The user has left the room", Result: null });
    const leave = '{"roomName":"r","user":"carol"}';
    expect(text((await alice.publishOn("Chat/OnLeave")).payload!)).toBe(leave);
    expect(text((await bob.publishOn("Chat/OnLeave")).payload!)).toBe(leave);
    // carol is gone from the room now.
    expect((await call(alice, "Chat/HD_Say", { roomName: "r", content: "x", target: "carol" })).Error).toBe(
      "This user haven't been in the room yet",
    );
  });

  it("leaves lazily on a broadcast too; the sender still gets success", async () => {
    const g = await gate();
    const alice = await user(g, "alice");
    const bob = await user(g, "bob");
    for (const c of [alice, bob]) await call(c, "Chat/HD_JoinChat", { roomName: "r" });
    bob.close();
    await bob.closed;
    await sleep(20);
    const r = await call(alice, "Chat/HD_Say", { roomName: "r", content: "anyone?", target: "*" });
    expect(r).toMatchObject({ Error: "", Result: { say: "say success" } });
    expect(text((await alice.publishOn("Chat/OnLeave")).payload!)).toBe('{"roomName":"r","user":"bob"}');
  });

  it("lists a member whose OnJoin failed in that join's users, then drops them", async () => {
    const g = await gate();
    const alice = await user(g, "alice");
    const bob = await user(g, "bob");
    await call(alice, "Chat/HD_JoinChat", { roomName: "r" });
    alice.close();
    await alice.closed;
    await sleep(20);
    const users = (await call(bob, "Chat/HD_JoinChat", { roomName: "r" })).Result as { users: string[] };
    expect(users.users.sort()).toEqual(["alice", "bob"]);
    const again = (await call(bob, "Chat/HD_JoinChat", { roomName: "r" })).Result as { users: string[] };
    expect(again.users).toEqual(["bob"]);
  });

  it("replaces a user's earlier session when the same user joins again (after a reconnect)", async () => {
    const g = await gate();
    const alice1 = await user(g, "alice");
    const bob = await user(g, "bob");
    await call(alice1, "Chat/HD_JoinChat", { roomName: "r" });
    await call(bob, "Chat/HD_JoinChat", { roomName: "r" });
    alice1.close();
    await alice1.closed;
    const alice2 = await user(g, "alice");
    await call(alice2, "Chat/HD_JoinChat", { roomName: "r" });
    expect((await call(bob, "Chat/HD_Say", { roomName: "r", content: "back?", target: "alice" })).Error).toBe(
      "",
    );
    expect(text((await alice2.publishOn("Chat/OnChat")).payload!)).toContain('"msg":"back?"');
  });

  it("takes about 30–50 ms per JoinChat, scaled by timeScale", async () => {
    const g = await gate({ timeScale: 1, rpcTimeoutMs: 5000 });
    const alice = await user(g, "alice");
    const t0 = performance.now();
    await call(alice, "Chat/HD_JoinChat", { roomName: "r" });
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(29);
    expect(ms).toBeLessThan(500);
  });

  it("serves the demo page's habits: mqtt.js over WS, MQTT 3.1, QoS 1, client id 111 for everyone", async () => {
    const g = await gate({ profile: "v1.2.0" });
    const connect = async () => {
      const c = await mqtt.connectAsync(g.wsUrl, {
        protocolId: "MQIsdp",
        protocolVersion: 3,
        clientId: "111",
        keepalive: 60,
        reconnectPeriod: 0,
      });
      cleanup.add({ close: () => c.endAsync(true) });
      const inbox: Array<[string, string]> = [];
      c.on("message", (t, p) => inbox.push([t, p.toString()]));
      let n = 0;
      const req = async (topic: string, body: object) => {
        const t = `${topic}/${++n}`;
        await c.publishAsync(t, JSON.stringify(body), { qos: 1 });
        for (;;) {
          const hit = inbox.find(([it]) => it === t);
          if (hit) return JSON.parse(hit[1]) as { Error: string; Result: unknown };
          await sleep(5);
        }
      };
      return { inbox, req };
    };
    const a = await connect();
    const b = await connect();
    await a.req("Login/HD_Login", { userName: "ann", passWord: "x" });
    await b.req("Login/HD_Login", { userName: "ben", passWord: "x" });
    await a.req("Chat/HD_JoinChat", { roomName: "page" });
    await b.req("Chat/HD_JoinChat", { roomName: "page" });
    expect(
      (await b.req("Chat/HD_Say", { roomName: "page", content: "yo", from: "ben", target: "*" })).Error,
    ).toBe("");
    await sleep(20);
    expect(a.inbox.filter(([t]) => t === "Chat/OnJoin").map(([, p]) => p)).toEqual([
      '{"roomName":"page","user":"ben"}',
    ]);
    expect(a.inbox.filter(([t]) => t === "Chat/OnChat").map(([, p]) => p)).toEqual([
      '{"from":"ben","msg":"yo","roomName":"page","target":"*"}',
    ]);
  });
});
