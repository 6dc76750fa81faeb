import { runTransportContract } from "gmq/contract";
import { broadcastChannelTransport } from "../examples/custom-adapter/broadcast-channel-transport.js";

let run = 0;
runTransportContract("custom adapter: BroadcastChannel (examples/custom-adapter)", {
  capabilities: broadcastChannelTransport({ name: "probe" }).capabilities,
  async setup() {
    const name = `contract-${process.pid}-${++run}`;
    return { transport: () => broadcastChannelTransport({ name }) };
  },
});
