import { runTransportContract } from "gmq/contract";
import { createMemoryBroker } from "../adapters/testing/index.js";

const broker = createMemoryBroker();

runTransportContract("memory", {
  capabilities: broker.transport().capabilities,
  faults: { dropConnections: true, setOnline: true },
  reportsNoResponder: true,
  async setup() {
    return {
      transport: () => broker.transport(),
      dropConnections: () => broker.dropConnections(),
      setOnline: (online) => broker.setOnline(online),
    };
  },
});
