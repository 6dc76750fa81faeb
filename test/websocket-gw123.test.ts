/**
 * `gmq/websocket` with `dialect: "gw123"`: the legacy gw123/GMQ `/message` socket (spec §4),
 * against `startGw123MessageSocket()`. Publish only; the Origin header set in Node; one
 * connection per moduleName, so an evicted client stops instead of fighting back, and a
 * reconnect goes through the outbox without losing or doubling an event.
 */
import { type Client, createClient, type GmqError, textCodec } from "gmq";
import { runTransportContract, waitFor } from "gmq/contract";
import { type Gw123MessageSocket, startGw123MessageSocket } from "gmq/testing";
import { WEBSOCKET_REASONS, websocket } from "gmq/websocket";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

let server: Gw123MessageSocket;
const clients: Client[] = [];
beforeAll(async () => {
  server = await startGw123MessageSocket();
});
afterAll(() => server.close());
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function client(moduleName: string): Client {
  const c = createClient({
    transport: websocket({ url: server.url, dialect: "gw123", moduleName }),
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  c.on("error", () => {});
  clients.push(c);
  return c;
}

runTransportContract("websocket, gw123 /message dialect", {
  capabilities: websocket({ url: "ws://127.0.0.1:1/message", dialect: "gw123" }).capabilities,
  setup: async () => {
    const own = await startGw123MessageSocket();
    return {
      transport: () => websocket({ url: own.url, dialect: "gw123" }),
      teardown: () => own.close(),
    };
  },
});

describe("gw123 /message dialect", () => {
  it("publishes events as the historical frames, with Origin set, and each once", async () => {
    const c = client("viewModule");
    const before = server.published.length;
    const result = await c.publish("sendMobileMessage", { phone: "123", text: "héllo" });
    expect(result.status).toBe("sent");
    await waitFor(() => server.published.length === before + 1, 5_000, "the event");
    expect(server.published.at(-1)).toEqual({
      moduleName: "viewModule",
      eventName: "sendMobileMessage",
      payload: '{"phone":"123","text":"héllo"}',
      msgId: result.id,
      sourceModuleName: "viewModule",
      dstModuleName: "",
      token: "",
    });
    await c.publish("updateCache", "plain text", { codec: textCodec });
    await waitFor(() => server.published.length === before + 2, 5_000, "the text event");
    expect(server.published.at(-1)!.payload).toBe("plain text");
  });

  it("refuses to subscribe (the socket forwards nothing)", () => {
    const c = client("nosub");
    expect(() => c.subscribe("anything", () => {})).toThrow(expect.objectContaining({ code: "unsupported" }));
  });

  it("an evicted client stops with forbidden/evicted; the newer connection keeps the name", async () => {
    const first = client("shared");
    const stops: (GmqError | undefined)[] = [];
    first.on("state", (change) => {
      if (change.to === "disconnected") stops.push(change.error as GmqError | undefined);
    });
    await first.connect();
    const second = client("shared");
    await second.connect();
    await waitFor(() => first.state === "disconnected", 5_000, "the first client to stop");
    expect(stops[0]?.code).toBe("forbidden");
    expect(stops[0]?.reason).toBe(WEBSOCKET_REASONS.evicted);
    await new Promise((r) => setTimeout(r, 300));
    expect(second.state).toBe("connected");
    expect(server.moduleNames().filter((n) => n === "shared")).toHaveLength(1);
    const before = server.published.length;
    await second.publish("afterEviction", 1);
    await waitFor(() => server.published.length === before + 1, 5_000, "the event");
  });

  it("queues while the socket is down and sends each event once after reconnecting with its name", async () => {
    const c = client("reconnecting");
    await c.connect();
    const before = server.published.length;
    // It may reconnect within a few ms: wait for the state change, not a polled state.
    const noticed = new Promise<void>((resolve) =>
      c.on("state", (s) => s.to === "reconnecting" && resolve()),
    );
    server.dropAll();
    await noticed;
    await Promise.all(Array.from({ length: 20 }, (_, i) => c.publish("queued", i)));
    await waitFor(() => server.published.length >= before + 20, 10_000, "20 events");
    await new Promise((r) => setTimeout(r, 200));
    const events = server.published.slice(before);
    expect(events.map((e) => Number(e.payload))).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(events.every((e) => e.moduleName === "reconnecting")).toBe(true);
    expect(c.state).toBe("connected");
  });
});
