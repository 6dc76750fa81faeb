/**
 * The transport contract against a real Mosquitto 2 (MQTT 5: user properties, shared
 * subscriptions, "no matching subscribers"), over TCP and WebSocket, and over TCP once more with
 * every PUBLISH written by mqtt.js's public `publish` instead of the adapter's one-buffer path
 * (adapters/mqtt/fast-publish.ts), which is what an unproven mqtt.js version gets.
 */

import { runTransportContract } from "gmq/contract";
import { afterAll, beforeAll, describe } from "vitest";
import { useFastPublish } from "../adapters/mqtt/fast-publish.js";
import { mqtt } from "../adapters/mqtt/index.js";
import { mosquittoBinary, type SystemServer, startMosquitto } from "./support/mqtt-servers.js";
import { recordScenario } from "./support/reliability.js";

describe.skipIf(!mosquittoBinary.available)("mosquitto", () => {
  for (const via of ["tcp", "ws", "tcp, public publish"] as const) {
    describe(via, () => {
      if (via === "tcp, public publish") {
        beforeAll(() => useFastPublish(false));
        afterAll(() => useFastPublish(true));
      }
      contract(via);
    });
  }
});

function contract(via: "tcp" | "ws" | "tcp, public publish"): void {
  runTransportContract(`mqtt 5 over mosquitto (${via})`, {
    capabilities: mqtt({ url: "mqtt://127.0.0.1:1" }).capabilities,
    onScenario: recordScenario,
    faults: { dropConnections: true, setOnline: true },
    reportsNoResponder: true,
    async setup() {
      const server: SystemServer = await startMosquitto();
      const url = via === "ws" ? server.wsUrl! : server.tcpUrl;
      let online = true;
      return {
        transport: () => mqtt({ url, protocolVersion: 5 }),
        dropConnections: () => server.restart(),
        setOnline: async (next) => {
          if (next === online) return;
          online = next;
          await (next ? server.start() : server.stop());
        },
        teardown: () => server.close(),
      };
    },
  });
}
