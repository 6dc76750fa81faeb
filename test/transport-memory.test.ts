import { runTransportContract } from "gmq/contract";
import { createMemoryBroker, type MemoryTransportShape } from "gmq/testing";
import { recordScenario } from "./support/reliability.js";

/** The memory broker in each shape the contract knows, so every core path runs without a network. */
const shapes: [string, MemoryTransportShape][] = [
  ["link, routed", {}],
  ["link, pull streams", { inbound: "stream" }],
  ["request-only, pull streams", { connection: "request" }],
];

for (const [name, shape] of shapes) {
  const broker = createMemoryBroker();
  const decoder = new TextDecoder();
  const streamTopic = `stream/${name.replaceAll(/\W+/g, "-")}`;
  runTransportContract(`memory (${name})`, {
    capabilities: broker.transport(shape).capabilities,
    onScenario: recordScenario,
    faults: { dropConnections: shape.connection !== "request", setOnline: true, endStreams: true },
    reportsNoResponder: true,
    stream: {
      pattern: streamTopic,
      async feed(values) {
        const feeder = broker.transport();
        await feeder.connect!(
          { onMessage() {}, onDisconnect() {}, onError() {} },
          { signal: new AbortController().signal },
        );
        for (const [i, value] of values.entries()) {
          const payload = new TextEncoder().encode(JSON.stringify(value));
          await feeder.publish(
            { topic: streamTopic, payload, id: `feed-${Date.now()}-${i}`, qos: 1 },
            { signal: new AbortController().signal },
          );
        }
        await feeder.disconnect();
      },
    },
    async setup() {
      return {
        transport: () => broker.transport(shape),
        dropConnections: () => broker.dropConnections(),
        setOnline: (online) => broker.setOnline(online),
        endStreams: () => broker.endStreams(),
        received: (topic) =>
          broker.accepted.filter((m) => m.topic === topic).map((m) => JSON.parse(decoder.decode(m.payload))),
      };
    },
  });
}
