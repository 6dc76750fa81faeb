/**
 * Sessions and server pushes (spec §4, §5; checklist items 22 and 23).
 */

import { afterEach, describe, expect, it } from "vitest";
import {
  type GateSession,
  type MqantGate,
  mapHandler,
  SessionError,
  startMqantGate,
} from "../adapters/testing/mqant/index.js";
import { Cleanup, PINGREQ, publishPacket, RawClient, sleep, text } from "./mqant-gate-helpers.js";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

let captured: GateSession | undefined;

const sess = {
  Sess: {
    HD_PushThenReply: mapHandler(async (s) => {
      const id = s.topic.split("/")[2]!;
      await s.send("Sess/OnA", id);
      await s.send("Sess/OnB", new TextEncoder().encode(id));
      return id;
    }),
    HD_Info: mapHandler((s) => {
      captured = s;
      return {
        sessionId: s.sessionId,
        userId: s.userId,
        network: s.network,
        ip: s.ip,
        serverId: s.serverId,
        traceId: s.traceId,
        spanId: s.spanId,
        topic: s.topic,
        settings: s.settings,
      };
    }),
    HD_Bind: mapHandler(async (s, m) => {
      await s.bind(String(m.user));
      return s.userId;
    }),
    HD_Unbind: mapHandler(async (s) => {
      await s.unbind();
      return s.userId;
    }),
    HD_Set: mapHandler(async (s, m) => {
      await s.set(String(m.k), String(m.v));
      return s.settings;
    }),
    HD_Remove: mapHandler(async (s, m) => {
      await s.remove(String(m.k));
      return s.settings;
    }),
    HD_PushMerge: mapHandler(async (s) => {
      await s.set("a", "1");
      // Drop "a" locally and add "b": push merges, it never deletes on the gate.
      delete s.settings.a;
      s.settings.b = "2";
      await s.push();
      await s.update();
      return s.settings;
    }),
    HD_Batch: mapHandler(async (s, m) => s.sendBatch(String(m.ids), "Sess/OnBatch", "batch")),
    HD_Broadcast: mapHandler(async (s) => s.broadcast("Sess/OnAll", "all")),
    HD_IsConnect: mapHandler(async (s, m) => s.isConnect(String(m.user))),
    HD_SendNR: mapHandler((s) => {
      s.sendNR("Sess/OnNR", "nr");
      return "ok";
    }),
    HD_Close: mapHandler(async (s) => {
      await s.close();
      return "closed";
    }),
  },
};

async function gate(o: { fragmentFrames?: boolean } = {}): Promise<MqantGate> {
  captured = undefined;
  return cleanup.add(await startMqantGate({ timeScale: 0.05, modules: sess, ...o }));
}

async function tcp(g: MqantGate): Promise<RawClient> {
  const c = cleanup.add(await RawClient.tcp(g.tcpPort));
  await c.connect();
  return c;
}

describe("pushes (§4)", () => {
  it("writes pushes a handler awaited before its reply, body verbatim, no envelope", async () => {
    for (const transport of ["tcp", "ws"] as const) {
      const g = await gate({ fragmentFrames: true });
      const c = transport === "tcp" ? await tcp(g) : cleanup.add(await RawClient.ws(g.wsUrl, "mqtt"));
      if (transport === "ws") await c.connect();
      for (let i = 1; i <= 20; i++) c.send(publishPacket(`Sess/HD_PushThenReply/${i}`, "{}"));
      await Promise.all(Array.from({ length: 20 }, (_, i) => c.publishOn(`Sess/HD_PushThenReply/${i + 1}`)));
      const pubs = c.packets.filter((p) => p.type === 3);
      const at = (topic: string, body: string) =>
        pubs.findIndex((p) => p.topic === topic && text(p.payload!) === body);
      for (let i = 1; i <= 20; i++) {
        const onA = at("Sess/OnA", String(i));
        const onB = at("Sess/OnB", String(i));
        const reply = pubs.findIndex((p) => p.topic === `Sess/HD_PushThenReply/${i}`);
        expect(onA).toBeGreaterThanOrEqual(0);
        expect(onA).toBeLessThan(onB);
        expect(onB).toBeLessThan(reply);
      }
      expect(pubs).toHaveLength(60);
    }
  });

  it("sendNR pushes eventually, fire-and-forget", async () => {
    const c = await tcp(await gate());
    expect((await c.request("Sess/HD_SendNR/1", {})).Result).toBe("ok");
    expect(text((await c.publishOn("Sess/OnNR")).payload!)).toBe("nr");
  });

  it("sendBatch and broadcast reach the listed / all connections (guests included) and count them", async () => {
    const g = await gate();
    const a = await tcp(g);
    const b = await tcp(g);
    const c = await tcp(g);
    const ids = g.sessions().map((s) => s.sessionId);
    expect(ids).toHaveLength(3);
    const bInfo = await b.request("Sess/HD_Info/1", {});
    const cInfo = await c.request("Sess/HD_Info/1", {});
    const batch = `${(bInfo.Result as { sessionId: string }).sessionId},${(cInfo.Result as { sessionId: string }).sessionId},0000000000000000`;
    expect((await a.request("Sess/HD_Batch/1", { ids: batch })).Result).toBe(2);
    await b.publishOn("Sess/OnBatch");
    await c.publishOn("Sess/OnBatch");
    expect(a.publishesOn("Sess/OnBatch")).toHaveLength(0);
    expect((await a.request("Sess/HD_Broadcast/1", {})).Result).toBe(3);
    for (const x of [a, b, c]) expect(text((await x.publishOn("Sess/OnAll")).payload!)).toBe("all");
    expect(g.broadcast("Gate/OnNews", "n")).toBe(3);
    for (const x of [a, b, c]) await x.publishOn("Gate/OnNews");
  });

  it("fails `send` to a gone session with `No Sesssion found`", async () => {
    const g = await gate();
    const c = await tcp(g);
    await c.request("Sess/HD_Info/1", {});
    const kept = captured!;
    await expect(kept.send("Sess/OnX", "still here")).resolves.toBeUndefined();
    c.close();
    await c.closed;
    await sleep(20);
    const err = await kept.send("Sess/OnX", "gone").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SessionError);
    expect((err as Error).message).toBe("No Sesssion found");
    await expect(kept.bind("x")).rejects.toThrow("No Sesssion found");
    expect(g.sessions()).toHaveLength(0);
  });
});

describe("session API (§5)", () => {
  it("fills the session fields; spanId is new per request, traceId is the connection's Trace", async () => {
    const g = await gate();
    const c = await tcp(g);
    const r1 = await c.request("Sess/HD_Info/1", {});
    const r2 = await c.request("Sess/HD_Info/2", {});
    const i1 = r1.Result as Record<string, unknown>;
    const i2 = r2.Result as Record<string, unknown>;
    expect(i1).toMatchObject({ userId: "", network: "tcp", serverId: g.gateId, topic: "Sess/HD_Info/1" });
    expect(i1.sessionId).toMatch(/^[0-9a-f]{16}$/);
    expect(i1.traceId).toBe(r1.Trace);
    expect(i1.ip).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(i2.sessionId).toBe(i1.sessionId);
    expect(i2.spanId).not.toBe(i1.spanId);
    expect(g.gateId).toMatch(/^Gate@[0-9a-f]{16}$/);
  });

  it("bind/unbind/set/remove change the gate's copy, seen by later requests", async () => {
    const g = await gate();
    const c = await tcp(g);
    expect((await c.request("Sess/HD_Bind/1", { user: "alice" })).Result).toBe("alice");
    expect((await c.request("Sess/HD_Info/2", {})).Result).toMatchObject({ userId: "alice" });
    expect(g.sessions()[0]!.userId).toBe("alice");
    expect((await c.request("Sess/HD_Set/3", { k: "room", v: "r1" })).Result).toEqual({ room: "r1" });
    expect((await c.request("Sess/HD_Info/4", {})).Result).toMatchObject({ settings: { room: "r1" } });
    expect((await c.request("Sess/HD_Remove/5", { k: "room" })).Result).toEqual({});
    expect((await c.request("Sess/HD_Unbind/6", {})).Result).toBe("");
  });

  it("push merges the local settings into the gate's copy and never deletes", async () => {
    const c = await tcp(await gate());
    expect((await c.request("Sess/HD_PushMerge/1", {})).Result).toEqual({ a: "1", b: "2" });
  });

  it("isConnect sees other connections' bindings while they are connected", async () => {
    const g = await gate();
    const a = await tcp(g);
    const b = await tcp(g);
    await a.request("Sess/HD_Bind/1", { user: "alice" });
    expect((await b.request("Sess/HD_IsConnect/1", { user: "alice" })).Result).toBe(true);
    expect((await b.request("Sess/HD_IsConnect/2", { user: "bob" })).Result).toBe(false);
    a.close();
    await a.closed;
    await sleep(20);
    expect((await b.request("Sess/HD_IsConnect/3", { user: "alice" })).Result).toBe(false);
  });

  it("sends the client nothing on bind, set or push", async () => {
    const c = await tcp(await gate());
    await c.request("Sess/HD_Bind/1", { user: "u" });
    await c.request("Sess/HD_PushMerge/2", {});
    c.send(PINGREQ);
    await c.waitFor((p) => p.type === 13);
    expect(c.packets.map((p) => p.type)).toEqual([2, 3, 3, 13]);
  });

  it("close drops the TCP socket without any MQTT packet; the reply never comes", async () => {
    const c = await tcp(await gate());
    c.send(publishPacket("Sess/HD_Close/1", "{}"));
    await c.expectClosed();
    expect(c.packets.map((p) => p.type)).toEqual([2]);
  });

  it("close on WebSocket sends a 1000 close frame and no MQTT packet", async () => {
    const g = await gate();
    const c = cleanup.add(await RawClient.ws(g.wsUrl, "mqtt"));
    await c.connect();
    c.send(publishPacket("Sess/HD_Close/1", "{}"));
    await c.expectClosed();
    expect(c.closeCode).toBe(1000);
    expect(c.packets.map((p) => p.type)).toEqual([2]);
  });

  it("gives every connection a new anonymous session; a reconnect starts over", async () => {
    const g = await gate();
    const a = await tcp(g);
    await a.request("Sess/HD_Bind/1", { user: "alice" });
    const first = (await a.request("Sess/HD_Info/2", {})).Result as { sessionId: string };
    a.close();
    await a.closed;
    const again = await tcp(g);
    const r = await again.request("Sess/HD_Info/1", {});
    const second = r.Result as { sessionId: string; userId: string };
    expect(second.sessionId).not.toBe(first.sessionId);
    expect(second.userId).toBe("");
  });

  it("does not kick duplicate client ids or duplicate user bindings", async () => {
    const g = await gate();
    const a = cleanup.add(await RawClient.tcp(g.tcpPort));
    const b = cleanup.add(await RawClient.tcp(g.tcpPort));
    await a.connect({ clientId: "111" });
    await b.connect({ clientId: "111" });
    await a.request("Sess/HD_Bind/1", { user: "same" });
    await b.request("Sess/HD_Bind/1", { user: "same" });
    await sleep(20);
    expect(a.isClosed || b.isClosed).toBe(false);
    expect(g.sessions().map((s) => s.userId)).toEqual(["same", "same"]);
  });

  it("dropAll closes every client socket at once", async () => {
    const g = await gate();
    const a = await tcp(g);
    const b = cleanup.add(await RawClient.ws(g.wsUrl, "mqtt"));
    await b.connect();
    g.dropAll();
    await Promise.all([a.expectClosed(), b.expectClosed()]);
    expect(b.closeCode).toBe(1006);
    expect(g.sessions()).toHaveLength(0);
  });
});
