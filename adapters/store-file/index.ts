export type { CompactionPolicy } from "./compaction.js";
export { type FileOutboxStore, type FileStoreOptions, fileStore } from "./file-store.js";
export type { FileStoreStats } from "./log-writer.js";
export type { CorruptionInfo, DroppedRegion } from "./recovery.js";
