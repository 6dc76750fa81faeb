/**
 * Manual acknowledgements on MQTT: a message the app did not ack stays unacknowledged at the
 * broker and comes back (DUP) in the next session of a persistent client; an acked or dropped
 * (nack without requeue) one does not. Against aedes (3.1.1 persistent session) and Mosquitto
 * (MQTT 5 clean start off + session expiry).
 */

import { type Client, createClient, type Message } from "gmq";
import { waitFor } from "gmq/contract";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type MqttOptions, mqtt } from "../adapters/mqtt/index.js";
import { type EmbeddedBroker, startBroker } from "../adapters/testing/broker.js";
import { mosquittoBinary, type SystemServer, startMosquitto } from "./support/mqtt-servers.js";

let counter = 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Server {
  url: string;
  options: Partial<MqttOptions>;
  /** The broker sets DUP on a redelivery (aedes does not), which gmq reports as `redelivered`. */
  setsDup: boolean;
  close(): Promise<void>;
}

function suite(name: string, start: () => Promise<Server>) {
  describe(name, () => {
    let server: Server;
    const clients: Client[] = [];
    const client = (extra: Partial<MqttOptions> = {}) => {
      const c = createClient({
        transport: mqtt({ url: server.url, ...server.options, ...extra }),
        reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
      });
      c.on("error", () => {});
      clients.push(c);
      return c;
    };
    /** A persistent session: same client id every time, clean start off. */
    const session = (clientId: string) => client({ clientId, clean: false });
    const collect = (c: Client, topic: string, onMessage: (m: Message<string>) => unknown = () => {}) => {
      const got: Message<string>[] = [];
      const sub = c.subscribe<string>(
        topic,
        (m) => {
          got.push(m);
          return onMessage(m);
        },
        { ack: "manual" },
      );
      return { got, ready: sub.ready };
    };

    beforeAll(async () => {
      server = await start();
    });
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close()));
    });
    afterAll(async () => {
      await server?.close();
    });

    it("an unacked message is redelivered in the next session, an acked one is not", async () => {
      const clientId = `gmq_ack_${process.pid}_${++counter}`;
      const topic = `ack/redeliver/${clientId}`;
      const first = session(clientId);
      const one = collect(first, topic); // never acks
      await one.ready;
      const publisher = client();
      const sent = await publisher.publish(topic, "job-1");
      await waitFor(() => one.got.length === 1, 10_000, "the first delivery");
      expect(one.got[0]!.redelivered).toBe(false);
      await first.close();

      const second = session(clientId);
      const two = collect(second, topic, (m) => m.ack());
      await waitFor(() => two.got.length === 1, 10_000, "the redelivery");
      expect(two.got[0]!.data).toBe("job-1");
      expect(two.got[0]!.id).toBe(sent.id);
      expect(two.got[0]!.redelivered).toBe(server.setsDup);
      await sleep(200); // let the PUBACK reach the broker
      await second.close();

      const third = session(clientId);
      const three = collect(third, topic, (m) => m.ack());
      await three.ready;
      await sleep(300);
      expect(three.got).toEqual([]);
    });

    it("acks go out in order: an early ack waits for the unacked message before it", async () => {
      const clientId = `gmq_ack_${process.pid}_${++counter}`;
      const topic = `ack/order/${clientId}`;
      const first = session(clientId);
      const one = collect(first, topic, (m) => (m.data === "b" ? m.ack() : undefined)); // "a" stays unacked
      await one.ready;
      const publisher = client();
      await publisher.publish(topic, "a");
      await publisher.publish(topic, "b");
      await waitFor(() => one.got.length === 2, 10_000, "both messages");
      await sleep(100);
      await first.close();
      // "b" was acked by the app, but MQTT wants PUBACKs in arrival order, so its PUBACK waits
      // behind "a"'s, which never came: the broker still holds both and resends both.
      const second = session(clientId);
      const two = collect(second, topic, (m) => m.ack());
      await waitFor(() => two.got.length >= 1, 10_000, "the redelivery");
      await sleep(300);
      expect(two.got.map((m) => m.data)).toEqual(["a", "b"]);
      expect(two.got.every((m) => m.redelivered === server.setsDup)).toBe(true);
    });

    it("nack without requeue drops the message; with requeue it comes back at once", async () => {
      const clientId = `gmq_ack_${process.pid}_${++counter}`;
      const topic = `ack/nack/${clientId}`;
      const first = session(clientId);
      const seen: string[] = [];
      const one = collect(first, topic, async (m) => {
        seen.push(`${m.data}${m.redelivered ? "*" : ""}`);
        if (m.data === "drop") return m.nack({ requeue: false });
        if (!m.redelivered) return m.nack({ requeue: true });
        return m.ack();
      });
      await one.ready;
      const publisher = client();
      await publisher.publish(topic, "drop");
      await publisher.publish(topic, "retry");
      await waitFor(() => seen.length === 3, 10_000, "three deliveries");
      expect(seen).toEqual(["drop", "retry", "retry*"]);
      await sleep(200);
      await first.close();
      const second = session(clientId);
      const two = collect(second, topic, (m) => m.ack());
      await two.ready;
      await sleep(300);
      expect(two.got).toEqual([]);
    });
  });
}

suite("manual ack on aedes (MQTT 3.1.1 persistent session)", async () => {
  const broker: EmbeddedBroker = await startBroker();
  return {
    url: broker.tcpUrl,
    options: { envelope: true, sharedSubscriptions: false },
    setsDup: false,
    close: () => broker.close(),
  };
});

describe.skipIf(!mosquittoBinary.available)("mosquitto", () => {
  suite("manual ack on mosquitto (MQTT 5 session expiry)", async () => {
    const server: SystemServer = await startMosquitto();
    return {
      url: server.tcpUrl,
      options: { protocolVersion: 5, sessionExpiryInterval: 300 },
      setsDup: true,
      close: () => server.close(),
    };
  });
});
