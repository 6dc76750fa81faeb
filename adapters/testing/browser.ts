/**
 * `gmq/testing` as a browser bundle resolves it (the `browser` export condition): the in-process
 * memory broker and transport, which run anywhere. The servers (`startBroker`, the gate and
 * backend emulators) need Node and are in the Node build only.
 */

export type { MemoryStream } from "./memory-stream.js";
export {
  createMemoryBroker,
  createMemoryTransport,
  type MemoryBroker,
  type MemoryBrokerOptions,
  type MemoryTransportShape,
} from "./memory-transport.js";
