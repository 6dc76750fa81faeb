/**
 * The transport contract against nats-server's MQTT listener (MQTT 3.1.1 over JetStream, no
 * shared subscriptions), so the adapter negotiates down and uses the envelope.
 */

import { runTransportContract } from "gmq/contract";
import { describe } from "vitest";
import { mqtt } from "../adapters/mqtt/index.js";
import { natsBinary, type SystemServer, startNatsMqtt } from "./support/mqtt-servers.js";
import { recordScenario } from "./support/reliability.js";

describe.skipIf(!natsBinary.available)("nats", () => {
  const options = { envelope: true, sharedSubscriptions: false } as const;
  runTransportContract("mqtt 3.1.1 over nats-server", {
    capabilities: mqtt({ url: "mqtt://127.0.0.1:1", ...options }).capabilities,
    onScenario: recordScenario,
    faults: { dropConnections: true, setOnline: true },
    reportsNoResponder: false,
    async setup() {
      const server: SystemServer = await startNatsMqtt();
      let online = true;
      return {
        transport: () => mqtt({ url: server.tcpUrl, ...options }),
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
});
