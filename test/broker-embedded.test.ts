/**
 * The fix the embedded broker (gmq/testing startBroker) applies to aedes, shown with raw mqtt.js
 * clients, so nothing of gmq is involved.
 */

import { waitFor } from "gmq/contract";
import mqttjs, { type IClientOptions, type MqttClient } from "mqtt";
import { afterEach, expect, it, vi } from "vitest";
import { type EmbeddedBroker, startBroker } from "../adapters/testing/broker.js";

let broker: EmbeddedBroker | undefined;
const clients: MqttClient[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const client of clients.splice(0)) client.end(true);
  await broker?.close();
  broker = undefined;
});

function connect(url: string, options: IClientOptions): Promise<MqttClient> {
  const client = mqttjs.connect(url, { reconnectPeriod: 0, ...options });
  clients.push(client);
  return new Promise((resolve, reject) => {
    client.once("connect", () => resolve(client));
    client.once("error", reject);
  });
}

it("a resumed session never gives two messages in flight the same packet id", async () => {
  broker = await startBroker();
  // aedes starts each connection's packet-id counter at ceil(random × 65535): pin it, so the
  // resumed connection's counter starts exactly at the id of the message still unacknowledged.
  vi.spyOn(Math, "random").mockReturnValue(0.5);
  const session = { clientId: "ids_receiver", clean: false, protocolVersion: 4 } as const;
  const sender = await connect(broker.tcpUrl, { clientId: "ids_sender" });

  const first = await connect(broker.tcpUrl, session);
  await first.subscribeAsync("ids/t", { qos: 1 });
  const unacked: number[] = [];
  first.handleMessage = (packet) => {
    unacked.push(packet.messageId!); // never calls back: no PUBACK
  };
  await sender.publishAsync("ids/t", "A", { qos: 1 });
  await waitFor(() => unacked.length === 1, 5_000, "A on the first connection");
  first.end(true);
  await sender.publishAsync("ids/t", "B", { qos: 1 }); // queued for the offline session

  const resumed: { id: number; payload: string }[] = [];
  const second = mqttjs.connect(broker.tcpUrl, { ...session, reconnectPeriod: 0 });
  clients.push(second);
  second.on("message", (_topic, payload, packet) => {
    resumed.push({ id: packet.messageId!, payload: payload.toString() });
  });
  await waitFor(() => resumed.length === 2, 5_000, "A and B on the resumed session");

  expect(resumed.map((m) => m.payload)).toEqual(["A", "B"]);
  expect(resumed[0]!.id).toBe(unacked[0]); // A is resent under its original id
  expect(resumed[1]!.id).not.toBe(resumed[0]!.id);
});
