export { type BrokerOptions, type EmbeddedBroker, startBroker } from "./broker.js";
export { createManualClock, type ManualClock, systemClock, type TestClock, unixSeconds } from "./clock.js";
export * from "./gnode/index.js";
export * from "./gw123/index.js";
export type { MemoryStream } from "./memory-stream.js";
export {
  createMemoryBroker,
  createMemoryTransport,
  type MemoryBroker,
  type MemoryBrokerOptions,
  type MemoryTransportShape,
} from "./memory-transport.js";
export * from "./mqant/index.js";
