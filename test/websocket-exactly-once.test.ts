/**
 * Exactly-once publishing through `gmq/websocket`: a publisher whose connection is cut every
 * 200 ms while it sends 3,000 messages. Every message reaches every subscriber once, and the hub
 * applied each once: its topic stream holds exactly 3,000 (offsets count by one on the memory
 * engine) and a raw subscriber, which drops nothing, saw each id once.
 */
import { type Client, createClient } from "gmq";
import { waitFor } from "gmq/contract";
import { createHub, type Hub } from "gmq/hub";
import { websocket } from "gmq/websocket";
import { afterAll, beforeAll, expect, it } from "vitest";
import { HubTestClient } from "./support/hub-client.js";
import { type RestartableHub, startRestartableHub } from "./support/hub-harness.js";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.js";

let hub: RestartableHub;
let proxy: TcpProxy;
const clients: Client[] = [];

beforeAll(async () => {
  hub = await startRestartableHub();
  proxy = await startTcpProxy(Number(new URL(hub.url).port));
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await proxy.close();
  await hub.close();
});

function client(url: string): Client {
  const c = createClient({
    transport: websocket({ url }),
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
  });
  c.on("error", () => {});
  clients.push(c);
  return c;
}

it("3,000 messages from a publisher cut every 200 ms arrive once at every subscriber and once at the hub", async () => {
  const topic = "exactly-once/stream";
  const total = 3_000;
  const subscribers = [client(hub.url), client(hub.url)];
  const got = subscribers.map(() => [] as number[]);
  await Promise.all(
    subscribers.map((s, i) => s.subscribe<number>(topic, (m) => void got[i]!.push(m.data)).ready),
  );
  const { client: raw } = await HubTestClient.connect(hub.url);
  const before = await raw.subscribe("raw", topic);
  const rawIds: string[] = [];
  raw.socket.on("message", (data) => {
    const frame = JSON.parse(data.toString());
    if (frame.type === "message") rawIds.push(frame.id);
  });

  const publisher = client(proxy.url("/gmq"));
  await publisher.connect();
  const cuts = setInterval(() => proxy.cut(), 200);
  let reconnects = 0;
  publisher.on("state", (change) => {
    if (change.to === "reconnecting") reconnects++;
  });
  try {
    // Paced a little, so the sending spans many cuts.
    for (let i = 0; i < total; i++) {
      void publisher.publish(topic, i);
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 25));
    }
    await waitFor(() => publisher.outboxStats().count === 0, 60_000, "the outbox to empty");
  } finally {
    clearInterval(cuts);
  }
  expect(reconnects).toBeGreaterThan(3);
  await waitFor(() => got.every((g) => g.length >= total), 20_000, "every subscriber to get 3,000");
  await new Promise((r) => setTimeout(r, 300));
  for (const g of got) expect(g).toEqual(Array.from({ length: total }, (_, i) => i));
  expect(rawIds.length).toBe(total);
  expect(new Set(rawIds).size).toBe(total);
  // The hub's own count: the stream's offset moved by exactly 3,000.
  const after = await raw.subscribe("raw2", topic);
  expect(after.offset - before.offset).toBe(total);
  await raw.close();
}, 90_000);

it("after a reconnect, messages the hub accepted but whose pubacks were lost are not sent again (connected.lastSeq)", async () => {
  let publishFrames = 0;
  const own: Hub = await createHub({
    authorize: (_identity, request) => {
      if (request.action === "publish") publishFrames++;
      return true;
    },
  });
  const ownProxy = await startTcpProxy(own.port);
  try {
    const topic = "exactly-once/last-seq";
    const subscriber = client(own.url);
    const got: number[] = [];
    await subscriber.subscribe<number>(topic, (m) => void got.push(m.data)).ready;
    const publisher = client(ownProxy.url("/gmq"));
    await publisher.publish(topic, -1); // names this outbox's producer for the next connect
    ownProxy.muteDownstream(); // the hub gets and applies them; their pubacks never come back
    const results = Array.from({ length: 20 }, (_, i) => publisher.publish(topic, i));
    await waitFor(() => got.length === 21, 5_000, "the hub to apply all 20");
    ownProxy.cut();
    await Promise.all(results);
    await waitFor(
      () => publisher.state === "connected" && publisher.outboxStats().count === 0,
      10_000,
      "a flushed outbox",
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual([-1, ...Array.from({ length: 20 }, (_, i) => i)]);
    expect(publishFrames).toBe(21); // none resent: the reconnect's lastSeq covered them
  } finally {
    await ownProxy.close();
    await own.close();
  }
});
