export { type IndexedDbOutboxStore, type IndexedDbStoreOptions, indexedDbStore } from "./indexeddb-store.js";
