/**
 * The transport contract against a real Mosquitto 2 (MQTT 5: user properties, shared
 * subscriptions, "no matching subscribers"), over TCP and WebSocket.
 */

import { runTransportContract } from "gmq/contract";
import { describe } from "vitest";
import { mqtt } from "../adapters/mqtt/index.js";
import { mosquittoBinary, type SystemServer, startMosquitto } from "./support/mqtt-servers.js";
import { recordScenario } from "./support/reliability.js";

describe.skipIf(!mosquittoBinary.available)("mosquitto", () => {
  for (const via of ["tcp", "ws"] as const) {
    runTransportContract(`mqtt 5 over mosquitto (${via})`, {
      capabilities: mqtt({ url: "mqtt://127.0.0.1:1" }).capabilities,
      onScenario: recordScenario,
      faults: { dropConnections: true, setOnline: true },
      reportsNoResponder: true,
      async setup() {
        const server: SystemServer = await startMosquitto();
        const url = via === "tcp" ? server.tcpUrl : server.wsUrl!;
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
});
