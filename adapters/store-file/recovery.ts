/**
 * Recovery: replay the log into the live set. The log is cut at the first frame that is not
 * whole and intact (a write torn by a crash, a flipped bit), and the file is truncated there, so
 * the next append starts on a clean boundary instead of hiding behind garbage.
 */
import type { FileHandle } from "node:fs/promises";
import type { OutboxRecord } from "gmq";
import { storageError } from "./errors.js";
import { checkFileHeader, FILE_HEADER, FILE_HEADER_SIZE, readFrame } from "./format.js";

/** A live record and the size of the frame that holds it in the log. */
export interface LiveEntry {
  readonly record: OutboxRecord;
  readonly size: number;
}

/** What recovery dropped: `offset` is where the log was cut, `bytesDropped` how much followed. */
export interface CorruptionInfo {
  readonly path: string;
  readonly offset: number;
  readonly bytesDropped: number;
  /** `torn`: the last frame is incomplete (crash mid-write). `checksum`: a frame fails its CRC.
   *  `malformed`: the CRC matches but the body does not decode (written by a broken writer). */
  readonly reason: "torn" | "checksum" | "malformed" | "header";
}

export interface Recovered {
  readonly live: Map<string, LiveEntry>;
  /** Bytes of valid log, header included: where the next frame is appended. */
  readonly end: number;
  readonly corruption: CorruptionInfo | undefined;
}

/** Applies every intact frame in order; stops at the first bad one. */
export function replay(buf: Buffer, path: string): Recovered {
  const live = new Map<string, LiveEntry>();
  let offset = FILE_HEADER_SIZE;
  while (offset < buf.length) {
    const frame = readFrame(buf, offset);
    if (frame.status !== "ok") {
      return {
        live,
        end: offset,
        corruption: { path, offset, bytesDropped: buf.length - offset, reason: frame.status },
      };
    }
    const { entries, sizes } = frame;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (typeof entry === "string") live.delete(entry);
      else live.set(entry.id, { record: entry, size: sizes[i]! });
    }
    offset += frame.size;
  }
  return { live, end: offset, corruption: undefined };
}

/** Reads and repairs the log open in `handle` (read-write). */
export async function recover(handle: FileHandle, path: string): Promise<Recovered> {
  const { size } = await handle.stat();
  const buf = Buffer.allocUnsafe(size);
  let read = 0;
  while (read < size) {
    const { bytesRead } = await handle.read(buf, read, size - read, read);
    if (bytesRead === 0) break;
    read += bytesRead;
  }
  const bytes = buf.subarray(0, read);
  const header = checkFileHeader(bytes);
  if (header === "foreign") {
    throw storageError(`${path} is not a gmq outbox log (bad header); refusing to touch it`, "BAD_FORMAT");
  }
  if (header === "short") {
    // Crashed while creating the file: start it over.
    await handle.truncate(0);
    await handle.write(FILE_HEADER, 0, FILE_HEADER.length, 0);
    await handle.datasync();
    const corruption: CorruptionInfo | undefined =
      bytes.length > 0 ? { path, offset: 0, bytesDropped: bytes.length, reason: "header" } : undefined;
    return { live: new Map(), end: FILE_HEADER_SIZE, corruption };
  }
  const recovered = replay(bytes, path);
  if (recovered.end < read || size !== read) {
    await handle.truncate(recovered.end);
    await handle.datasync();
  }
  return recovered;
}
