/**
 * The broker restarts in the middle of 10,000 QoS 1 publishes: nothing is lost and a gmq
 * subscriber sees every message exactly once (the outbox resends what was in flight, the
 * persistent session redelivers what the broker held, dedup by id drops the overlap). Run on the
 * embedded aedes broker (MQTT 3.1.1 with the envelope) and on Mosquitto with persistence
 * (MQTT 5, restarted by SIGTERM, which saves its sessions to disk).
 */

import { type Client, createClient } from "gmq";
import { waitFor } from "gmq/contract";
import { afterEach, describe, expect, it } from "vitest";
import { type MqttOptions, mqtt } from "../adapters/mqtt/index.js";
import { startBroker } from "../adapters/testing/broker.js";
import { mosquittoBinary, startMosquitto } from "./support/mqtt-servers.js";
import { recordScenario, tally } from "./support/reliability.js";

const TOTAL = 10_000;

interface RestartableBroker {
  readonly url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

const brokers = [
  {
    name: "aedes, MQTT 3.1.1 with the envelope",
    available: true,
    options: { protocolVersion: 4, envelope: true },
    async start(): Promise<RestartableBroker> {
      const broker = await startBroker();
      return { url: broker.tcpUrl, stop: broker.stop, start: broker.restart, close: broker.close };
    },
  },
  {
    name: "Mosquitto with persistence, MQTT 5",
    available: mosquittoBinary.available,
    options: { protocolVersion: 5 },
    async start(): Promise<RestartableBroker> {
      const server = await startMosquitto({ persistence: true });
      return { url: server.tcpUrl, stop: server.stop, start: server.start, close: server.close };
    },
  },
] as const;

const clients: Client[] = [];
let broker: RestartableBroker | undefined;
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await broker?.close();
  broker = undefined;
});

for (const kind of brokers) {
  describe.skipIf(!kind.available)(kind.name, () => {
    it(`a broker restart in the middle of ${TOTAL} QoS 1 publishes loses nothing and duplicates nothing`, {
      timeout: 60_000,
    }, async () => {
      const server = await kind.start();
      broker = server;
      const make = (extra: Partial<MqttOptions> = {}) => {
        const c = createClient({
          transport: mqtt({ url: server.url, sharedSubscriptions: false, ...kind.options, ...extra }),
          reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
        });
        c.on("error", () => {});
        clients.push(c);
        return c;
      };
      const topic = `restart/${process.pid}`;
      // A persistent session, so what the broker holds for the subscriber survives its restart.
      const receiver = make({ clientId: `gmq_restart_rx_${process.pid}`, clean: false });
      const got: number[] = [];
      await receiver.subscribe<number>(topic, (m) => {
        got.push(m.data);
      }).ready;
      const sender = make();
      await sender.connect();
      recordScenario(() => ({
        scenario: `broker restart mid-stream (${kind.name})`,
        injected: `the broker stopped and restarted after a quarter of ${TOTAL.toLocaleString("en-US")} QoS 1 publishes`,
        ...tally(
          Array.from({ length: TOTAL }, (_, i) => i),
          got,
        ),
        notes: "outbox resends what was in flight; persistent session redelivers; dedup by id",
      }));

      const states: string[] = [];
      sender.on("state", (change) => states.push(change.to));
      let restarted = false;
      const restart = waitFor(() => got.length >= TOTAL / 4, 20_000, "a quarter of the messages").then(
        async () => {
          await server.stop();
          await new Promise((resolve) => setTimeout(resolve, 200));
          await server.start();
          restarted = true;
        },
      );
      const results = await Promise.all(Array.from({ length: TOTAL }, (_, i) => sender.publish(topic, i)));
      await restart;
      expect(restarted).toBe(true);
      expect(results.every((r) => r.status === "sent" || r.status === "queued")).toBe(true);
      await waitFor(() => got.length >= TOTAL, 30_000, `${TOTAL} messages`).catch((error: Error) => {
        const seen = new Set(got);
        const missing = Array.from({ length: TOTAL }, (_, i) => i).filter((i) => !seen.has(i));
        const where = `sender outbox ${JSON.stringify(sender.outboxStats())}, sender ${sender.state}, receiver ${receiver.state}`;
        throw new Error(
          `${error.message}: got ${got.length}, missing ${missing.length} (${missing.slice(0, 8)}…); ${where}`,
        );
      });
      await waitFor(() => sender.outboxStats().count === 0, 10_000, "an empty outbox");
      await new Promise((resolve) => setTimeout(resolve, 300)); // anything extra would arrive by now

      expect(states).toContain("reconnecting");
      expect(got.length).toBe(TOTAL);
      expect(new Set(got).size).toBe(TOTAL);
      expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
    });
  });
}
