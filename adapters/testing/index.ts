export { type BrokerOptions, type EmbeddedBroker, startBroker } from "./broker.js";
export * from "./gnode/index.js";
export {
  createMemoryBroker,
  createMemoryTransport,
  type MemoryBroker,
  type MemoryBrokerOptions,
} from "./memory-transport.js";
export * from "./mqant/index.js";
