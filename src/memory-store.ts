import { byId, type OutboxRecord, type OutboxStore } from "./store.js";

/** The default store: keeps records in a Map. Survives reconnects, not reloads. */
export function memoryStore(): OutboxStore {
  const records = new Map<string, OutboxRecord>();
  const state = new Map<string, string>();
  return {
    kind: "memory",
    durable: false,
    async load() {
      return [...records.values()].sort(byId);
    },
    async put(batch) {
      for (const record of batch) records.set(record.id, record);
    },
    async delete(ids) {
      for (const id of ids) records.delete(id);
    },
    async readState(key) {
      return state.get(key);
    },
    async writeState(key, value) {
      if (value === undefined) state.delete(key);
      else state.set(key, value);
    },
    async close() {},
  };
}
