/**
 * Interop with plain MQTT clients (Mosquitto's command-line tools over MQTT 5): payloads cross
 * unchanged both ways, and gmq headers are ordinary MQTT 5 user properties.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { bytesCodec, type Client, createClient, type Message } from "gmq";
import { waitFor } from "gmq/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mqtt } from "../adapters/mqtt/index.js";
import { mosquittoBinary, type SystemServer, startMosquitto } from "./support/mqtt-servers.js";
import { requireBinary } from "./support/system.js";

const run = promisify(execFile);
const pub = requireBinary("mosquitto_pub", "/usr/bin/mosquitto_pub");
const sub = requireBinary("mosquitto_sub", "/usr/bin/mosquitto_sub");

describe.skipIf(!mosquittoBinary.available || !pub.available || !sub.available)(
  "interop with mosquitto_pub/sub",
  () => {
    let server: SystemServer;
    let port: string;
    const clients: Client[] = [];
    const client = () => {
      const c = createClient({ transport: mqtt({ url: server.tcpUrl }), codec: bytesCodec });
      clients.push(c);
      return c;
    };

    beforeAll(async () => {
      server = await startMosquitto();
      port = new URL(server.tcpUrl).port;
    });
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.close()));
      await server?.close();
    });

    it("what mosquitto_pub sends arrives unchanged at a gmq subscriber", async () => {
      const topic = `interop/in/${process.pid}`;
      const received: Message<Uint8Array>[] = [];
      const c = client();
      await c.subscribe<Uint8Array>(topic, (m) => {
        received.push(m);
      }).ready;
      const text = '{"not":"a gmq envelope"} ünïcode';
      await run(pub.path, [
        "-h",
        "127.0.0.1",
        "-p",
        port,
        "-V",
        "5",
        "-q",
        "1",
        "-t",
        topic,
        "-m",
        text,
        "-D",
        "publish",
        "user-property",
        "trace",
        "abc-123",
      ]);
      await waitFor(() => received.length === 1, 10_000, "the message from mosquitto_pub");
      const [message] = received;
      expect(Buffer.from(message!.payload).toString("utf8")).toBe(text);
      expect(message!.id).toBeUndefined();
      expect(message!.headers).toEqual({ trace: "abc-123" });
    });

    it("what gmq publishes over MQTT 5 arrives unchanged at mosquitto_sub, headers as user properties", async () => {
      const topic = `interop/out/${process.pid}`;
      const c = client();
      const payload = new Uint8Array([0x7b, 0x22, 0x67, 0x6d, 0x71, 0, 1, 2, 0xfe, 0xff]);
      // Retained, so a subscriber that starts afterwards still gets it; cleared at the end.
      const result = await c.publish(topic, payload, { retain: true, headers: { trace: "t-1" } });
      const args = ["-h", "127.0.0.1", "-p", port, "-V", "5", "-C", "1", "-W", "10", "-t", topic];
      const [raw, props] = await Promise.all([
        run(sub.path, [...args, "-N"], { encoding: "buffer" }),
        run(sub.path, [...args, "-F", "%P"]),
      ]);
      expect(Array.from(raw.stdout)).toEqual(Array.from(payload));
      expect(props.stdout).toContain("trace:t-1");
      expect(props.stdout).toContain(`gmq-id:${result.id}`);
      await c.publish(topic, new Uint8Array(), { retain: true });
    });
  },
);
