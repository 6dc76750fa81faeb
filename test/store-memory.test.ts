import { memoryStore } from "../src/memory-store.js";
import { runStoreContract } from "./contract/store.js";

runStoreContract("memory", {
  fresh: () => {},
  open: () => memoryStore(),
});
