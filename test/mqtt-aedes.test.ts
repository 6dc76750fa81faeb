/**
 * The transport contract against the embedded aedes broker (MQTT 3.1.1 only, so the adapter
 * negotiates down from 5 and uses the envelope), over TCP and over WebSocket, and over TCP once
 * more with mqtt.js's public `publish` instead of the one-buffer path (fast-publish.ts).
 */

import { runTransportContract } from "gmq/contract";
import { afterAll, beforeAll, describe } from "vitest";
import { useFastPublish } from "../adapters/mqtt/fast-publish.js";
import { mqtt } from "../adapters/mqtt/index.js";
import { startBroker } from "../adapters/testing/broker.js";
import { recordScenario } from "./support/reliability.js";

for (const via of ["tcp", "ws", "tcp, public publish"] as const) {
  describe(via, () => {
    if (via === "tcp, public publish") {
      beforeAll(() => useFastPublish(false));
      afterAll(() => useFastPublish(true));
    }
    contract(via);
  });
}

function contract(via: "tcp" | "ws" | "tcp, public publish"): void {
  const options = { envelope: true, sharedSubscriptions: false } as const;
  runTransportContract(`mqtt over aedes (${via})`, {
    capabilities: mqtt({ url: "mqtt://127.0.0.1:1", ...options }).capabilities,
    onScenario: recordScenario,
    faults: { dropConnections: true, setOnline: true },
    reportsNoResponder: false,
    async setup() {
      const broker = await startBroker();
      const url = via === "ws" ? broker.wsUrl : broker.tcpUrl;
      return {
        transport: () => mqtt({ url, ...options }),
        dropConnections: () => broker.dropConnections(),
        setOnline: (online) => (online ? broker.restart() : broker.stop()),
        teardown: () => broker.close(),
      };
    },
  });
}
