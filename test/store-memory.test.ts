import { runStoreContract } from "gmq/contract";
import { memoryStore } from "../src/memory-store.js";

runStoreContract("memory", {
  fresh: () => {},
  open: () => memoryStore(),
});
