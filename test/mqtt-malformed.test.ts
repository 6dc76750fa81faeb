/**
 * A broker that misbehaves: garbage instead of (or after) CONNACK, a connection closed in the
 * middle of a packet. The client reports an `error`, reconnects, and nothing is left unhandled
 * (vitest fails the run on an unhandled rejection or exception).
 */

import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket } from "node:net";
import { type Client, createClient, type GmqError } from "gmq";
import { waitFor } from "gmq/contract";
import { afterEach, describe, expect, it } from "vitest";
import { mqtt } from "../adapters/mqtt/index.js";

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const GARBAGE = Buffer.from([0x00, 0xde, 0xad, 0xbe, 0xef, 0x13, 0x37]);
/** PUBLISH QoS 0, topic "t/x", payload "hello": sent whole or cut in half. */
const PUBLISH = Buffer.from([0x30, 0x0a, 0x00, 0x03, 0x74, 0x2f, 0x78, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);

type Behaviour = (socket: Socket) => void;

/** A raw TCP "broker": connection n (from 0) gets `script[n]`, later ones the last entry. */
async function fakeBroker(
  script: Behaviour[],
): Promise<{ url: string; connections: () => number; server: Server }> {
  let count = 0;
  const server = createServer((socket) => {
    const behaviour = script[Math.min(count++, script.length - 1)]!;
    socket.on("error", () => {});
    socket.once("data", () => behaviour(socket)); // the CONNECT
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  servers.push(server);
  return { url: `mqtt://127.0.0.1:${port}`, connections: () => count, server };
}

const healthy: Behaviour = (socket) => socket.write(CONNACK);
const servers: Server[] = [];
const clients: Client[] = [];

function client(url: string): { c: Client; errors: GmqError[]; states: string[] } {
  const c = createClient({
    transport: mqtt({ url, protocolVersion: 4, envelope: true }),
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
  });
  clients.push(c);
  const errors: GmqError[] = [];
  const states: string[] = [];
  c.on("error", (error) => errors.push(error));
  c.on("state", (change) => states.push(change.to));
  return { c, errors, states };
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const server of servers.splice(0)) {
    server.close();
  }
});

describe("mqtt against a misbehaving broker", () => {
  it("garbage instead of CONNACK: an error, then a retry that succeeds", async () => {
    const broker = await fakeBroker([(socket) => socket.write(GARBAGE), healthy]);
    const { c, errors } = client(broker.url);
    await c.connect({ timeoutMs: 10_000 });
    expect(broker.connections()).toBe(2);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors[0]!.code).toBe("protocol");
  });

  it("garbage after CONNACK: an error, the connection is dropped and the client reconnects", async () => {
    const broker = await fakeBroker([
      (socket) => {
        socket.write(CONNACK);
        setTimeout(() => socket.write(GARBAGE), 50);
      },
      healthy,
    ]);
    const { c, errors, states } = client(broker.url);
    await c.connect({ timeoutMs: 10_000 });
    await waitFor(() => broker.connections() === 2 && c.state === "connected", 10_000, "a reconnect");
    expect(errors.map((e) => e.code)).toContain("protocol");
    expect(states).toEqual(["connected", "reconnecting", "connected"]);
  });

  it("a connection closed in the middle of a packet: an error, then a reconnect", async () => {
    const broker = await fakeBroker([
      (socket) => {
        socket.write(CONNACK);
        setTimeout(() => socket.end(PUBLISH.subarray(0, 6)), 50);
      },
      healthy,
    ]);
    const { c, errors, states } = client(broker.url);
    await c.connect({ timeoutMs: 10_000 });
    await waitFor(() => broker.connections() === 2 && c.state === "connected", 10_000, "a reconnect");
    const midPacket = errors.find((e) => e.message.includes("middle of"));
    expect(midPacket?.code).toBe("protocol");
    expect(midPacket?.message).toContain("6 of 12 bytes");
    expect(states).toEqual(["connected", "reconnecting", "connected"]);
  });

  it("closing before CONNACK, mid-packet, fails the attempt with a protocol error", async () => {
    const broker = await fakeBroker([(socket) => socket.end(CONNACK.subarray(0, 3)), healthy]);
    const { c, errors } = client(broker.url);
    await c.connect({ timeoutMs: 10_000 });
    expect(errors[0]?.code).toBe("protocol");
    expect(errors[0]?.message).toContain("middle of");
  });

  it("a clean close after CONNACK is a disconnect, not an error", async () => {
    const broker = await fakeBroker([
      (socket) => {
        socket.write(CONNACK);
        setTimeout(() => socket.end(PUBLISH), 50);
      },
      healthy,
    ]);
    const { c, errors, states } = client(broker.url);
    await c.connect({ timeoutMs: 10_000 });
    await waitFor(() => broker.connections() === 2 && c.state === "connected", 10_000, "a reconnect");
    expect(errors).toEqual([]);
    expect(states).toEqual(["connected", "reconnecting", "connected"]);
  });
});
