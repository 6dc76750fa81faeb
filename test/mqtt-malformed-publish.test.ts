/**
 * A broker that sends malformed PUBLISH packets (raw bytes from a fake broker): a topic that is
 * not UTF-8, holds NUL or a wildcard, or is empty; a QoS 1/2 packet with packet id 0. Each one is
 * rejected as a `protocol` error (reason MALFORMED_PACKET), never delivered nor acknowledged; the
 * connection is dropped, as MQTT requires, and the client reconnects. Well-formed messages around
 * it, including a topic that really holds U+FFFD, are delivered.
 */
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { type Client, createClient, type GmqError } from "gmq";
import { waitFor } from "gmq/contract";
import { afterEach, describe, expect, it } from "vitest";
import { mqtt } from "../adapters/mqtt/index.js";
import { recordScenario, tally } from "./support/reliability.js";

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);

/** A 3.1.1 PUBLISH with raw topic bytes. */
function publish(topic: Buffer | string, payload: string, qos: 0 | 1 | 2 = 0, packetId = 1): Buffer {
  const t = typeof topic === "string" ? Buffer.from(topic) : topic;
  const id = qos > 0 ? Buffer.from([packetId >> 8, packetId & 0xff]) : Buffer.alloc(0);
  const body = Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, id, Buffer.from(payload)]);
  const length: number[] = [];
  let rest = body.length;
  do {
    length.push((rest & 0x7f) | (rest > 0x7f ? 0x80 : 0));
    rest >>= 7;
  } while (rest > 0);
  return Buffer.concat([Buffer.from([0x30 | (qos << 1), ...length]), body]);
}

/** Splits what the client sent into packets: [type, body]. */
function packets(data: Buffer): [number, Buffer][] {
  const out: [number, Buffer][] = [];
  let i = 0;
  while (i + 1 < data.length) {
    const type = data[i]! >> 4;
    let length = 0;
    let shift = 0;
    let j = i + 1;
    for (;;) {
      const byte = data[j++]!;
      length += (byte & 0x7f) << shift;
      shift += 7;
      if ((byte & 0x80) === 0) break;
    }
    out.push([type, data.subarray(j, j + length)]);
    i = j + length;
  }
  return out;
}

interface FakeBroker {
  readonly url: string;
  connections(): number;
  /** Packet types the client sent, per connection. */
  readonly received: number[][];
}

const servers: Server[] = [];
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const server of servers.splice(0)) server.close();
});

/** After the client subscribes, connection n gets `script[n]` (later ones the last entry). */
async function fakeBroker(script: Buffer[][]): Promise<FakeBroker> {
  const received: number[][] = [];
  const server = createServer((socket: Socket) => {
    const n = received.length;
    const seen: number[] = [];
    received.push(seen);
    socket.on("error", () => {});
    socket.on("data", (data) => {
      for (const [type, body] of packets(data)) {
        seen.push(type);
        if (type === 1) socket.write(CONNACK);
        else if (type === 8) {
          socket.write(Buffer.from([0x90, 0x03, body[0]!, body[1]!, 0x00])); // SUBACK, QoS 0
          socket.write(Buffer.concat(script[Math.min(n, script.length - 1)]!));
        } else if (type === 12) socket.write(Buffer.from([0xd0, 0x00]));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { url: `mqtt://127.0.0.1:${port}`, connections: () => received.length, received };
}

function client(url: string) {
  const c = createClient({
    transport: mqtt({ url, protocolVersion: 4 }),
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
  });
  clients.push(c);
  const errors: GmqError[] = [];
  const got: { topic: string; data: unknown }[] = [];
  c.on("error", (error) => errors.push(error));
  c.subscribe("#", (m) => {
    got.push({ topic: m.topic, data: m.data });
  });
  return { c, errors, got };
}

const CASES: { name: string; packet: Buffer; problem: string }[] = [
  {
    name: "a topic that is not UTF-8",
    packet: publish(Buffer.from([0x74, 0x2f, 0xff, 0xfe]), '"bad"'),
    problem: "not valid UTF-8",
  },
  {
    name: "a topic with an overlong UTF-8 encoding",
    packet: publish(Buffer.from([0x74, 0x2f, 0xc0, 0xaf]), '"bad"'),
    problem: "not valid UTF-8",
  },
  {
    name: "a topic with an encoded surrogate",
    packet: publish(Buffer.from([0x74, 0x2f, 0xed, 0xa0, 0x80]), '"bad"'),
    problem: "not valid UTF-8",
  },
  { name: "a NUL in the topic", packet: publish("t/a\u0000b", '"bad"'), problem: "NUL" },
  { name: "a + wildcard in the topic", packet: publish("t/+", '"bad"'), problem: "wildcard" },
  { name: "a # wildcard in the topic", packet: publish("t/#", '"bad"'), problem: "wildcard" },
  { name: "an empty topic", packet: publish("", '"bad"'), problem: "empty" },
  { name: "QoS 1 with packet id 0", packet: publish("t/q1", '"bad"', 1, 0), problem: "packet id 0" },
  { name: "QoS 2 with packet id 0", packet: publish("t/q2", '"bad"', 2, 0), problem: "packet id 0" },
];

describe("malformed inbound PUBLISH", () => {
  for (const { name, packet, problem } of CASES) {
    it(`${name}: a protocol error, not delivered, not acknowledged`, async () => {
      // Like a real broker, it redelivers on the next connection the QoS 1 message that was not
      // acknowledged because the connection was dropped before it.
      const behind = publish("t/ok", '"behind it"', 1, 7);
      const broker = await fakeBroker([
        [publish("t/ok", '"before"'), packet, behind],
        [behind, publish("t/ok", '"after reconnect"', 1, 8)],
      ]);
      const { c, errors, got } = client(broker.url);
      const good = ["before", "behind it", "after reconnect"];
      recordScenario(() => ({
        scenario: `mqtt inbound PUBLISH: ${name}`,
        injected:
          "a broker sends a good message, the malformed PUBLISH and a good QoS 1 one, which it " +
          "redelivers after the reconnect",
        kind: "hostile input",
        ...tally(
          good,
          got.map((m) => m.data),
        ),
        notes:
          "the malformed one: protocol error (MALFORMED_PACKET), neither delivered nor acknowledged; connection dropped",
      }));
      await c.connect({ timeoutMs: 5_000 });
      await waitFor(() => got.length >= 3, 10_000, "the messages after the reconnect");
      expect(got.map((m) => m.data)).toEqual(good);
      const malformed = errors.filter((e) => e.reason === "MALFORMED_PACKET");
      expect(malformed).toHaveLength(1);
      expect(malformed[0]).toMatchObject({ code: "protocol" });
      expect(malformed[0]!.message).toContain(problem);
      // Nothing acknowledged on the first connection: no PUBACK (4) or PUBREC (5).
      expect(broker.received[0]!.filter((type) => type === 4 || type === 5)).toEqual([]);
      // The good QoS 1 message after the reconnect is acknowledged.
      await waitFor(() => broker.received[1]!.includes(4), 5_000, "a PUBACK");
    });
  }

  it("well-formed topics with U+FFFD and other non-ASCII are delivered", async () => {
    const topics = ["t/\uFFFD", "čat/房间/🙂", "t/é".normalize("NFD"), "/", "a".repeat(300)];
    const broker = await fakeBroker([topics.map((t, i) => publish(t, JSON.stringify(i), 1, i + 1))]);
    const { c, errors, got } = client(broker.url);
    await c.connect({ timeoutMs: 5_000 });
    await waitFor(() => got.length >= topics.length, 10_000, "every message");
    expect(got.map((m) => m.topic)).toEqual(topics);
    expect(errors).toEqual([]);
    expect(broker.connections()).toBe(1);
  });

  it("a malformed topic split across TCP chunks is still caught", async () => {
    const bad = publish(Buffer.from([0x74, 0x2f, 0xe2, 0x82, 0xff]), '"bad"');
    const broker = await fakeBroker([[publish("t/ok", '"before"'), bad], [publish("t/ok", '"after"')]]);
    // Same broker, but written a byte at a time.
    const server = servers.at(-1)!;
    server.removeAllListeners("connection");
    let n = 0;
    server.on("connection", (socket: Socket) => {
      const first = n++ === 0;
      socket.on("error", () => {});
      socket.on("data", async (data) => {
        for (const [type, body] of packets(data)) {
          if (type === 1) socket.write(CONNACK);
          else if (type === 8) {
            socket.write(Buffer.from([0x90, 0x03, body[0]!, body[1]!, 0x00]));
            const bytes = first
              ? Buffer.concat([publish("t/ok", '"before"'), bad])
              : publish("t/ok", '"after"');
            for (const byte of bytes) {
              socket.write(Buffer.from([byte]));
              await new Promise((resolve) => setImmediate(resolve));
            }
          }
        }
      });
    });
    const { c, errors, got } = client(broker.url);
    await c.connect({ timeoutMs: 5_000 });
    await waitFor(() => got.length >= 2, 10_000, "the message after the reconnect");
    expect(got.map((m) => m.data)).toEqual(["before", "after"]);
    expect(errors.filter((e) => e.reason === "MALFORMED_PACKET")).toHaveLength(1);
  });
});
