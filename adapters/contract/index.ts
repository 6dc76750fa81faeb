/**
 * `gmq/contract`: the shared contract suites every transport and outbox store passes, for
 * third-party adapters as much as for ours. They are vitest suites: call them from a test file.
 *
 *   import { runTransportContract } from "gmq/contract";
 *   runTransportContract("my adapter", { capabilities, setup: async () => ({ transport: () => mine() }) });
 */
export { record, runStoreContract, type StoreHarness } from "./store.js";
export {
  type ContractOptions,
  type ContractScenario,
  runTransportContract,
  type TransportHarness,
  tally,
  waitFor,
} from "./transport.js";
