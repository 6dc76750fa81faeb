/**
 * Auto-ack acknowledges after the handler, not before (issue 17, defect 1): at QoS 1 the broker
 * hears the PUBACK of a message only once its handler has settled, so a subscriber that dies
 * mid-burst leaves every unhandled message with the broker, which redelivers it to the next
 * session. Counted at the broker (aedes' `ack` event), not in the client.
 */
import { createClient } from "gmq";
import { waitFor } from "gmq/contract";
import { mqtt } from "gmq/mqtt";
import { type EmbeddedBroker, startBroker } from "gmq/testing";
import { afterEach, describe, expect, it } from "vitest";

let broker: EmbeddedBroker | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

describe("auto-ack on MQTT", () => {
  it("acks each QoS 1 message only after its handler settled, and a crash mid-burst loses nothing", async () => {
    broker = await startBroker();
    let acked = 0;
    broker.aedes.on("ack", (packet, client) => {
      if (client?.id === "slow-worker" && packet) acked++;
    });
    const total = 200;
    const handled = new Set<number>();
    const worker = createClient({
      transport: mqtt({
        url: broker.tcpUrl,
        protocolVersion: 4,
        envelope: true,
        clientId: "slow-worker",
        clean: false,
      }),
    });
    worker.on("error", () => {});
    let overtaken = 0;
    await worker.subscribe<number>("jobs/burst", async (m) => {
      // The broker must not have heard more acks than handlers that finished.
      if (acked > handled.size) overtaken++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      handled.add(m.data);
    }).ready;

    const publisher = createClient({
      transport: mqtt({ url: broker.tcpUrl, protocolVersion: 4, envelope: true }),
    });
    await Promise.all(Array.from({ length: total }, (_, i) => publisher.publish("jobs/burst", i)));
    await waitFor(() => handled.size >= 40, 10_000, "some handled");
    expect(overtaken).toBe(0);
    expect(acked).toBeLessThanOrEqual(handled.size);

    // The worker dies mid-burst (its socket torn down, no goodbye).
    broker.dropConnections();
    await worker.close();
    const firstRun = handled.size;
    expect(firstRun).toBeLessThan(total);

    // The next session of the same worker gets everything it had not finished.
    const again = createClient({
      transport: mqtt({
        url: broker.tcpUrl,
        protocolVersion: 4,
        envelope: true,
        clientId: "slow-worker",
        clean: false,
      }),
    });
    again.on("error", () => {});
    await again.subscribe<number>("jobs/burst", (m) => void handled.add(m.data)).ready;
    await waitFor(() => handled.size === total, 15_000, "every message handled once the worker is back");
    expect([...handled].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i));
    await Promise.all([again.close(), publisher.close()]);
  });
});
