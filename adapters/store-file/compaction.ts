/**
 * Compaction: when dead frames (overwritten puts, deleted puts, tombstones) dominate the log,
 * write the live records to a temp file, sync it, rename it over the log and sync the directory.
 * A crash at any point leaves either the old log or the new one, both complete; a leftover temp
 * file is removed on the next open. The new log gets a new salt (see file-header.ts) and the
 * current format, so this is also how an old-format or damaged log is rewritten.
 */
import { promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { newHeader } from "./file-header.js";
import { encodeFrames } from "./format.js";
import type { LiveEntry } from "./recovery.js";
import { syncDirectory } from "./sync-dir.js";

export interface CompactionPolicy {
  /** Never compact a log smaller than this (bytes). */
  readonly minBytes: number;
  /** Compact when dead bytes exceed this fraction of the log. */
  readonly deadRatio: number;
}

export function shouldCompact(fileBytes: number, liveBytes: number, policy: CompactionPolicy): boolean {
  return fileBytes >= policy.minBytes && fileBytes - liveBytes > fileBytes * policy.deadRatio;
}

export function compactionTempPath(path: string): string {
  return `${path}.compact`;
}

/** Thrown when compaction failed after the rename: the log on disk is the new file, so the old
 *  handle must not be written to again. */
export class CompactionAfterRenameError extends Error {
  override readonly name = "CompactionAfterRenameError";
}

export interface Compacted {
  /** Open on the new log (it was the temp file), positioned nowhere: writes are positional. */
  readonly handle: FileHandle;
  readonly end: number;
  readonly live: Map<string, LiveEntry>;
  /** The seed of the new log's checksums. */
  readonly seed: number;
}

/** Records per write: bounds the memory a compaction of a large outbox needs at once. */
const CHUNK_RECORDS = 2048;

export async function compactLog(path: string, live: ReadonlyMap<string, LiveEntry>): Promise<Compacted> {
  const tempPath = compactionTempPath(path);
  const handle = await fs.open(tempPath, "w+");
  const { bytes: headerBytes, header } = newHeader();
  const { seed } = header.framing;
  let end = header.size;
  const next = new Map<string, LiveEntry>();
  try {
    await writeAll(handle, headerBytes, 0);
    const entries = [...live.values()];
    for (let i = 0; i < entries.length; i += CHUNK_RECORDS) {
      const chunk = entries.slice(i, i + CHUNK_RECORDS);
      const records = chunk.map((entry) => entry.record);
      const { bytes, putSizes } = encodeFrames([{ type: "put", records }], seed);
      await writeAll(handle, bytes, end);
      records.forEach((record, j) => {
        next.set(record.id, { record, size: putSizes[j]! });
      });
      end += bytes.length;
    }
    await handle.datasync();
    await fs.rename(tempPath, path);
  } catch (error) {
    await handle.close().catch(() => {});
    await fs.rm(tempPath, { force: true }).catch(() => {});
    throw error;
  }
  try {
    await syncDirectory(dirname(path));
  } catch (error) {
    await handle.close().catch(() => {});
    throw new CompactionAfterRenameError(`could not sync the directory of ${path}`, { cause: error });
  }
  return { handle, end, live: next, seed };
}

/** A positional write that loops over short writes. */
export async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}
