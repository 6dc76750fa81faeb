/**
 * A gate that misbehaves: garbage after CONNACK, a reply that is not the envelope. The mqant
 * client reports an `error` (or fails just that call with `protocol`), reconnects, and nothing
 * is left unhandled.
 */
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { type Client, createClient, type GmqError } from "gmq";
import { waitFor } from "gmq/contract";
import { afterEach, describe, expect, it } from "vitest";
import { type MqantOptions, mqant } from "../adapters/mqant/index.js";
import { recordScenario } from "./support/reliability.js";

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const GARBAGE = Buffer.from([0x00, 0xde, 0xad, 0xbe, 0xef]);
const servers: Server[] = [];
const clients: Client[] = [];

/** PUBLISH QoS 0 (no packet id) of `payload` on `topic`, as the gate writes replies. */
function publishPacket(topic: string, payload: string | Buffer): Buffer {
  const t = Buffer.from(topic);
  const p = typeof payload === "string" ? Buffer.from(payload) : payload;
  const body = Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, p]);
  const length: number[] = [];
  let rest = body.length;
  do {
    length.push((rest & 0x7f) | (rest > 0x7f ? 0x80 : 0));
    rest >>= 7;
  } while (rest > 0);
  return Buffer.concat([Buffer.from([0x30, ...length]), body]);
}

const DEPTH = 100_000;
/** What the fake gate answers, by the module a request is for, and what that is. */
const HOSTILE: Record<string, [reply: string | Buffer, what: string]> = {
  Bad: ["not json at all", "a reply that is not JSON"],
  Deep: [
    `{"Trace":"","Error":"","Result":${"[".repeat(DEPTH)}${"]".repeat(DEPTH)}}`,
    `a reply whose Result is arrays nested ${DEPTH.toLocaleString("en-US")} deep`,
  ],
  DeepObject: [
    `{"Error":"","Result":${'{"a":'.repeat(DEPTH)}1${"}".repeat(DEPTH)}}`,
    `a reply whose Result is objects nested ${DEPTH.toLocaleString("en-US")} deep`,
  ],
  NotUtf8: [
    Buffer.concat([Buffer.from('{"Error":"","Result":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
    "a reply that is not UTF-8",
  ],
  NoError: ['{"Result":1}', "a reply without its Error field"],
  ErrorNotString: ['{"Error":5,"Result":1}', "a reply whose Error is a number"],
  ProtoError: ['{"__proto__":{"Error":""},"Result":1}', "a reply hiding Error behind __proto__"],
  Array: ["[1,2,3]", "a reply that is a JSON array"],
  Null: ["null", "a reply that is JSON null"],
  Empty: ["", "an empty reply"],
};

async function fakeGate(onConnect: (socket: Socket, connection: number) => void): Promise<string> {
  let count = 0;
  const server = createServer((socket) => {
    const n = count++;
    socket.on("error", () => {});
    let connected = false;
    socket.on("data", (data) => {
      if (!connected) {
        connected = true;
        socket.write(CONNACK);
        onConnect(socket, n);
        return;
      }
      // Requests (PUBLISH, type 3): answer `Bad/HD_x/<id>` with a reply that is not an envelope.
      if (data.length < 4 || data[0]! >> 4 !== 3) return;
      const topicLength = data.readUInt16BE(2);
      const topic = data.subarray(4, 4 + topicLength).toString();
      const hostile = HOSTILE[topic.split("/")[0]!];
      if (hostile !== undefined) socket.write(publishPacket(topic, hostile[0]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function client(url: string, options: Partial<MqantOptions> = {}) {
  const c = createClient({
    transport: mqant({ url, ...options }),
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
  });
  const errors: GmqError[] = [];
  const states: string[] = [];
  c.on("error", (error) => errors.push(error));
  c.on("state", (change) => states.push(change.to));
  clients.push(c);
  return { c, errors, states };
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const server of servers.splice(0)) server.close();
});

describe("a misbehaving gate", () => {
  it("garbage after CONNACK: an error event, a reconnect, and the pending call fails `disconnected`", async () => {
    let sendGarbage: () => void = () => {};
    const url = await fakeGate((socket, n) => {
      if (n === 0) sendGarbage = () => socket.write(GARBAGE);
    });
    const { c, errors, states } = client(url);
    await c.connect();
    const pending = c.call("Slow", "HD_x", {}, { timeoutMs: 5_000 }).catch((e: GmqError) => e.code);
    await new Promise((r) => setTimeout(r, 20));
    sendGarbage();
    expect(await pending).toBe("disconnected");
    await waitFor(() => errors.length > 0 && states.filter((s) => s === "connected").length >= 2);
    expect(errors[0]!.code).toBe("protocol");
  });

  it("a reply that is not an envelope fails that call with `protocol` and keeps the connection", async () => {
    const url = await fakeGate(() => {});
    const { c, states } = client(url);
    await c.connect();
    const failure = (await c.call("Bad", "HD_x", {}).catch((e) => e)) as GmqError;
    expect([failure.code, failure.reason]).toEqual(["protocol", "DECODE_ERROR"]);
    expect(c.state).toBe("connected");
    expect(states.filter((s) => s === "connected").length).toBe(1);
  });

  for (const module of Object.keys(HOSTILE).filter((m) => m !== "Bad")) {
    it(`a hostile reply (${module}) fails that call with \`protocol\`, never \`remote\``, async () => {
      const url = await fakeGate(() => {});
      // A gate whose MaxPackSize lets a 100k-deep reply through: the decoder must still hold.
      const { c, errors, states } = client(url, { maxPacketBytes: 4 * 1024 * 1024 });
      await c.connect();
      const failure = (await c.call(module, "HD_x", {}).catch((e) => e)) as GmqError;
      expect([failure.code, failure.reason]).toEqual(["protocol", "DECODE_ERROR"]);
      // The connection is fine, and still carries calls.
      const again = (await c.call("Bad", "HD_x", {}).catch((e) => e)) as GmqError;
      expect(again.code).toBe("protocol");
      expect(c.state).toBe("connected");
      expect(states.filter((s) => s === "connected").length).toBe(1);
      expect(errors).toEqual([]);
      recordScenario({
        scenario: `mqant call answered with ${HOSTILE[module]![1]}`,
        injected: "a fake gate answers a call with it (then another call with garbage)",
        kind: "hostile input",
        sent: 1,
        delivered: 0,
        duplicated: 0,
        lost: 0,
        notes: "the call fails with protocol (DECODE_ERROR); the connection stays up",
      });
    });
  }

  it("a reply decoder that throws, or returns something else, is a protocol error too", async () => {
    const url = await fakeGate(() => {});
    const throwing = client(url, {
      replyDecoder: () => {
        throw new TypeError("boom");
      },
    });
    await throwing.c.connect();
    const thrown = (await throwing.c.call("Bad", "HD_x", {}).catch((e) => e)) as GmqError;
    expect([thrown.code, thrown.reason]).toEqual(["protocol", "DECODE_ERROR"]);
    expect(thrown.message).toContain("boom");
    const garbage = client(url, { replyDecoder: () => undefined as never });
    await garbage.c.connect();
    const returned = (await garbage.c.call("Bad", "HD_x", {}).catch((e) => e)) as GmqError;
    expect([returned.code, returned.reason]).toEqual(["protocol", "DECODE_ERROR"]);
  });
});
