/**
 * Batches (protocol §2): what the hub sends a connection during one turn of its event loop goes
 * out as one WebSocket message holding a JSON array of the frames, in order, but only to a
 * client that asked with `connect.batch: true`; every other client gets one frame per message.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createHub, type Hub, SUBPROTOCOL } from "../adapters/hub/index.js";

let hub: Hub;
const sockets: WebSocket[] = [];

beforeEach(async () => {
  hub = await createHub();
});
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  await hub.close();
});

/** A raw client keeping every WebSocket message it got, parsed, and resolving on the next one. */
async function open(connect: Record<string, unknown>) {
  const socket = new WebSocket(hub.url, [SUBPROTOCOL]);
  sockets.push(socket);
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  const messages: unknown[] = [];
  let waiter: (() => void) | undefined;
  socket.on("message", (data) => {
    messages.push(JSON.parse(data.toString()));
    waiter?.();
  });
  const until = async (done: () => boolean) => {
    while (!done()) await new Promise<void>((resolve) => (waiter = resolve));
  };
  const send = (frame: Record<string, unknown>) => socket.send(JSON.stringify(frame));
  send({ type: "connect", ...connect });
  await until(() => messages.length === 1);
  expect(messages[0]).toMatchObject({ type: "connected" });
  send({ type: "subscribe", rid: 1, sub: "exact", pattern: "batch/t" });
  send({ type: "subscribe", rid: 2, sub: "wild", pattern: "batch/+" });
  await until(() => messages.flat().filter((m) => (m as { rid?: number }).rid !== undefined).length === 2);
  messages.length = 0;
  return { messages, send, until };
}

describe("hub batches", () => {
  it("sends the frames of one turn as one JSON array, in order, to a client that asked", async () => {
    const client = await open({ batch: true });
    // One publish from the same connection: two deliveries and the puback, in one turn.
    client.send({ type: "publish", rid: 3, topic: "batch/t", payload: "hi" });
    await client.until(() => client.messages.length === 1);
    const batch = client.messages[0] as { type: string; sub?: string; rid?: number }[];
    expect(Array.isArray(batch)).toBe(true);
    expect(batch.map((f) => f.type)).toEqual(["message", "message", "puback"]);
    expect(
      batch
        .map((f) => f.sub)
        .slice(0, 2)
        .sort(),
    ).toEqual(["exact", "wild"]);
    expect(batch[2]!.rid).toBe(3);
  });

  it("sends one frame per message to a client that did not ask", async () => {
    const client = await open({});
    client.send({ type: "publish", rid: 3, topic: "batch/t", payload: "hi" });
    await client.until(() => client.messages.length === 3);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(client.messages.every((m) => !Array.isArray(m))).toBe(true);
    expect(client.messages.map((m) => (m as { type: string }).type)).toEqual([
      "message",
      "message",
      "puback",
    ]);
  });

  it("refuses a batch flag that is not a boolean", async () => {
    const socket = new WebSocket(hub.url, [SUBPROTOCOL]);
    sockets.push(socket);
    await new Promise((resolve) => socket.once("open", resolve));
    const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
    socket.send(JSON.stringify({ type: "connect", batch: "yes" }));
    expect(await closed).toBe(4000);
  });
});
