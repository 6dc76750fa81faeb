/**
 * Inbound size limits (issue 17, defect 8): a packet over `maxPacketBytes` is a `protocol` error,
 * refused from its header before its body is read, and the connection is dropped; on MQTT 5 the
 * limit is also sent to the broker, which then never sends such a packet.
 */
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:net";
import { type Client, createClient, type GmqError } from "gmq";
import { waitFor } from "gmq/contract";
import { mqant } from "gmq/mqant";
import { mqtt } from "gmq/mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { mosquittoBinary, startMosquitto } from "./support/mqtt-servers.js";

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const servers: Server[] = [];
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const server of servers.splice(0)) server.close();
});

/** A raw broker that answers CONNECT, then starts a 250 MB PUBLISH and streams its body. */
async function hugePublisher(): Promise<{ url: string; bodySent: () => number; closed: Promise<void> }> {
  let sent = 0;
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve;
  });
  const server = createServer((socket) => {
    socket.on("error", () => {});
    socket.on("close", () => markClosed());
    socket.once("data", () => {
      socket.write(CONNACK);
      // PUBLISH QoS 0, remaining length 250,000,000 (varint e0 a2 f5 76), topic "t".
      socket.write(Buffer.from([0x30, 0x80, 0xe5, 0x9a, 0x77, 0x00, 0x01, 0x74]));
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = () => {
        while (!socket.destroyed && sent < 250_000_000) {
          sent += chunk.length;
          if (!socket.write(chunk)) return void socket.once("drain", pump);
        }
      };
      pump();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { url: `mqtt://127.0.0.1:${port}`, bodySent: () => sent, closed };
}

function watch(c: Client): GmqError[] {
  const errors: GmqError[] = [];
  c.on("error", (error) => errors.push(error));
  clients.push(c);
  return errors;
}

describe("inbound packet size limits", () => {
  it("gmq/mqtt refuses a 250 MB PUBLISH from its header and drops the connection", async () => {
    const broker = await hugePublisher();
    const c = createClient({
      transport: mqtt({ url: broker.url, protocolVersion: 4, envelope: true }),
      reconnect: false,
    });
    const errors = watch(c);
    await c.connect().catch(() => {});
    await broker.closed;
    await waitFor(() => errors.some((e) => e.reason === "PACKET_TOO_LARGE"), 5_000, "the error");
    const error = errors.find((e) => e.reason === "PACKET_TOO_LARGE")!;
    expect(error.code).toBe("protocol");
    expect(error.details).toMatchObject({ bytes: 250_000_005, limit: 16 * 1024 * 1024 });
    // Dropped long before the body: the broker got to send only what sat in socket buffers.
    expect(broker.bodySent()).toBeLessThan(32 * 1024 * 1024);
  });

  it("gmq/mqant applies the gate's packet limit to what the gate sends", async () => {
    const broker = await hugePublisher();
    const c = createClient({ transport: mqant({ url: broker.url }), reconnect: false });
    const errors = watch(c);
    await c.connect().catch(() => {});
    await broker.closed;
    await waitFor(() => errors.some((e) => e.code === "protocol"), 5_000, "the error");
    expect(errors.find((e) => e.code === "protocol")!.message).toContain("over maxPacketBytes (65535)");
  });

  describe.skipIf(!mosquittoBinary.available)("MQTT 5 (Mosquitto)", () => {
    it("tells the broker the limit, so it never sends a larger message and the rest still flows", async () => {
      const broker = await startMosquitto();
      try {
        const small = createClient({ transport: mqtt({ url: broker.tcpUrl, maxPacketBytes: 1024 }) });
        const errors = watch(small);
        const got: string[] = [];
        await small.subscribe<string>("limits/t", (m) => void got.push(m.data)).ready;
        const sender = createClient({ transport: mqtt({ url: broker.tcpUrl }) });
        clients.push(sender);
        await sender.publish("limits/t", "x".repeat(4_000));
        await sender.publish("limits/t", "small");
        await waitFor(() => got.length === 1, 5_000, "the small message");
        expect(got).toEqual(["small"]);
        expect(errors).toEqual([]);
        expect(small.state).toBe("connected");
      } finally {
        await broker.close();
      }
    });
  });
});
