/**
 * `gmq/websocket` against the hub's heartbeats and auth hooks: a hub that stops answering is
 * noticed by the client's own deadline; a token is refreshed in band before it expires; an
 * expired one (4101) makes the client fetch a new token and reconnect; a refused one (4001)
 * stops the client unless the token provider has a new one. Also the local frame size limit.
 */
import { type Client, createClient, GmqError, type StateChange } from "gmq";
import { waitFor } from "gmq/contract";
import { createHub, type Hub, type HubOptions } from "gmq/hub";
import { WEBSOCKET_REASONS, websocket } from "gmq/websocket";
import { afterEach, describe, expect, it } from "vitest";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.js";

const hubs: Hub[] = [];
const proxies: TcpProxy[] = [];
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const proxy of proxies.splice(0)) await proxy.close();
  for (const hub of hubs.splice(0)) await hub.close();
});

async function hub(options: HubOptions = {}): Promise<Hub> {
  const h = await createHub(options);
  hubs.push(h);
  return h;
}

function client(transport: ReturnType<typeof websocket>, extra = {}): { c: Client; states: StateChange[] } {
  const c = createClient({ transport, reconnect: { initialDelayMs: 20, maxDelayMs: 100 }, ...extra });
  c.on("error", () => {});
  const states: StateChange[] = [];
  c.on("state", (change) => states.push(change));
  clients.push(c);
  return { c, states };
}

describe("gmq/websocket heartbeats", () => {
  it("notices a hub that stops answering within its ping interval and grace, and reconnects", async () => {
    const h = await hub({ heartbeat: { intervalMs: 100, graceMs: 100 } });
    const proxy = await startTcpProxy(h.port);
    proxies.push(proxy);
    const { c, states } = client(websocket({ url: proxy.url("/gmq") }));
    await c.connect();
    await new Promise((r) => setTimeout(r, 500)); // pings answered: still connected
    expect(c.state).toBe("connected");
    proxy.freeze();
    await waitFor(() => states.some((s) => s.to === "reconnecting"), 3_000, "the client to notice");
    const lost = states.find((s) => s.to === "reconnecting")!;
    expect((lost.error as GmqError).reason).toBe(WEBSOCKET_REASONS.heartbeat_timeout);
    await waitFor(() => c.state === "connected", 5_000, "a new connection");
    expect(proxy.connections).toBe(2);
  });
});

describe("gmq/websocket auth", () => {
  it("refreshes the token in band before it expires, without reconnecting", async () => {
    const refreshes: string[] = [];
    const h = await hub({
      authenticate: ({ token, previous }) => {
        if (!token?.startsWith("good")) return false;
        if (previous) refreshes.push(token);
        return { userId: "ann", expiresAt: Date.now() + 600 };
      },
    });
    let issued = 0;
    const { c, states } = client(websocket({ url: h.url, token: () => `good-${++issued}` }));
    const got: number[] = [];
    await c.subscribe<number>("auth/refresh", (m) => void got.push(m.data)).ready;
    // Three lifetimes and more, each extended in band.
    await waitFor(() => refreshes.length >= 3, 10_000, "three refreshes");
    expect(states.map((s) => s.to)).not.toContain("reconnecting");
    await c.publish("auth/refresh", 1);
    await waitFor(() => got.length === 1, 2_000, "a message on the same connection");
  });

  it("on an expired token (4101) fetches a new one and reconnects", async () => {
    const seen: string[] = [];
    const h = await hub({
      authenticate: ({ token, previous }) => {
        if (previous) return false; // refreshes refused: the token runs out
        seen.push(token!);
        return { userId: "ann", expiresAt: Date.now() + 800 };
      },
    });
    let issued = 0;
    const errors: GmqError[] = [];
    const { c, states } = client(websocket({ url: h.url, token: () => `t${++issued}` }));
    c.on("error", (error) => errors.push(error));
    await c.connect();
    await waitFor(() => seen.length >= 2, 5_000, "a reconnect with a new token");
    const lost = states.find((s) => s.to === "reconnecting")!;
    expect((lost.error as GmqError).reason).toBe(WEBSOCKET_REASONS.token_expired);
    expect(new Set(seen).size).toBe(seen.length); // a fresh token each time
    // The refused refresh was reported (before the hub closed with 4101).
    expect(errors.some((e) => e.code === "unauthenticated")).toBe(true);
    await waitFor(() => c.state === "connected", 2_000, "connected again");
  });

  it("a refused token (4001) stops the client with unauthenticated", async () => {
    let attempts = 0;
    const h = await hub({
      authenticate: () => {
        attempts++;
        return false;
      },
    });
    const { c } = client(websocket({ url: h.url, token: () => "bad" }), { autoConnect: false });
    const failure = (await c.connect().catch((e) => e)) as GmqError;
    expect(failure.code).toBe("unauthenticated");
    expect(failure.reason).toBe(WEBSOCKET_REASONS.unauthenticated);
    await new Promise((r) => setTimeout(r, 300));
    expect(c.state).toBe("disconnected");
    expect(attempts).toBe(1);
  });

  it("a refused token is retried when the provider has a new one (shouldRetry)", async () => {
    const h = await hub({ authenticate: ({ token }) => (token === "good" ? { userId: "ann" } : false) });
    const tokens = ["bad", "good"];
    const { c, states } = client(websocket({ url: h.url, token: () => tokens.shift() ?? "good" }));
    await waitFor(() => c.state === "connected", 5_000, "connected with the new token");
    expect(states.some((s) => (s.error as GmqError | undefined)?.code === "unauthenticated")).toBe(true);
  });
});

describe("gmq/websocket limits", () => {
  it("refuses a frame over the hub's maxFrameBytes locally with payload_too_large; the link stays", async () => {
    const h = await hub({ limits: { maxFrameBytes: 2048 } });
    const { c, states } = client(websocket({ url: h.url }));
    await c.connect();
    const big = "x".repeat(4096);
    const failure = (await c.publish("limits/big", big).catch((e) => e)) as GmqError;
    expect(GmqError.is(failure)).toBe(true);
    expect(failure.code).toBe("payload_too_large");
    const qos0 = (await c.publish("limits/big", big, { qos: 0 }).catch((e) => e)) as GmqError;
    expect(qos0.code).toBe("payload_too_large");
    expect((await c.publish("limits/small", "ok")).status).toBe("sent");
    expect(states.map((s) => s.to)).not.toContain("reconnecting");
  });
});
