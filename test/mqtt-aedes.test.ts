/**
 * The transport contract against the embedded aedes broker (MQTT 3.1.1 only, so the adapter
 * negotiates down from 5 and uses the envelope), over TCP and over WebSocket.
 */

import { runTransportContract } from "gmq/contract";
import { mqtt } from "../adapters/mqtt/index.js";
import { startBroker } from "../adapters/testing/broker.js";
import { recordScenario } from "./support/reliability.js";

for (const via of ["tcp", "ws"] as const) {
  const options = { envelope: true, sharedSubscriptions: false } as const;
  runTransportContract(`mqtt over aedes (${via})`, {
    capabilities: mqtt({ url: "mqtt://127.0.0.1:1", ...options }).capabilities,
    onScenario: recordScenario,
    faults: { dropConnections: true, setOnline: true },
    reportsNoResponder: false,
    async setup() {
      const broker = await startBroker();
      const url = via === "tcp" ? broker.tcpUrl : broker.wsUrl;
      return {
        transport: () => mqtt({ url, ...options }),
        dropConnections: () => broker.dropConnections(),
        setOnline: (online) => (online ? broker.restart() : broker.stop()),
        teardown: () => broker.close(),
      };
    },
  });
}
