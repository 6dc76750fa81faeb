/**
 * The shared transport contract against the gmq hub (in-memory engine), through `gmq/websocket`:
 * topic streams with wildcards, queue groups and manual ack, native call and handle, and the
 * faults the harness can make (the hub restarting on its address with its engine, so history
 * and exactly-once marks survive).
 */
import { runTransportContract } from "gmq/contract";
import { websocket } from "gmq/websocket";
import { HubTestClient } from "./support/hub-client.js";
import { type RestartableHub, startRestartableHub } from "./support/hub-harness.js";

const STREAM_TOPIC = "contract/stream";

runTransportContract("websocket over the gmq hub", {
  capabilities: websocket({ url: "ws://127.0.0.1:1/gmq" }).capabilities,
  reportsNoResponder: true,
  topicStreams: true,
  faults: { dropConnections: true, setOnline: true },
  stream: {
    pattern: STREAM_TOPIC,
    feed: async (values) => {
      const { client } = await HubTestClient.connect(hub.url);
      for (const value of values) await client.publish(STREAM_TOPIC, JSON.stringify(value));
      await client.close();
    },
  },
  setup: async () => {
    hub = await startRestartableHub();
    return {
      transport: () => websocket({ url: hub.url }),
      dropConnections: () => hub.restart(),
      setOnline: (online) => (online ? hub.start() : hub.stop()),
      teardown: () => hub.close(),
    };
  },
});

let hub: RestartableHub;
