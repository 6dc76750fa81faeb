/**
 * A gate that misbehaves: garbage after CONNACK, a reply that is not the envelope. The mqant
 * client reports an `error` (or fails just that call with `protocol`), reconnects, and nothing
 * is left unhandled.
 */
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { type Client, createClient, type GmqError } from "gmq";
import { waitFor } from "gmq/contract";
import { afterEach, describe, expect, it } from "vitest";
import { mqant } from "../adapters/mqant/index.js";

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const GARBAGE = Buffer.from([0x00, 0xde, 0xad, 0xbe, 0xef]);
const servers: Server[] = [];
const clients: Client[] = [];

/** PUBLISH QoS 0 (no packet id) of `payload` on `topic`, as the gate writes replies. */
function publishPacket(topic: string, payload: string): Buffer {
  const t = Buffer.from(topic);
  const p = Buffer.from(payload);
  const body = Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, p]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

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
      if (topic.startsWith("Bad/")) socket.write(publishPacket(topic, "not json at all"));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function client(url: string) {
  const c = createClient({ transport: mqant({ url }), reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
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
});
