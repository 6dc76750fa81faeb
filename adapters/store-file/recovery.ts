/**
 * Recovery: replay the log into the live set, keeping every intact frame.
 *
 * A damaged frame is dropped on its own and replay carries on after it: at its end when its
 * length can be trusted (v2: its header checksum holds), else at the next offset where a whole
 * frame checks out (a scan; the file's salt keeps a frame inside a payload from passing, and the
 * checksums keep garbage from passing). Only what follows the last intact frame, a write torn by
 * a crash or garbage, is cut off the file, so the next append starts on a clean boundary; damage
 * in the middle is left for the caller to rewrite away (compaction). Everything dropped is
 * reported, with where, how much and why.
 */
import type { FileHandle } from "node:fs/promises";
import type { OutboxRecord } from "gmq";
import { storageError } from "./errors.js";
import { CURRENT_VERSION, type Framing, type LogHeader, newHeader, readHeader } from "./file-header.js";
import { type FrameDamage, type FrameRead, frameHeaderAt, readFrame } from "./format.js";

/** A live record and the size of the frame that holds it in the log. */
export interface LiveEntry {
  readonly record: OutboxRecord;
  readonly size: number;
}

/** A stretch of the log that recovery dropped. */
export interface DroppedRegion {
  readonly offset: number;
  readonly bytes: number;
  /** What was wrong with the first frame of the stretch (`header`: the file header itself). */
  readonly reason: FrameDamage | "header";
  /** Nothing intact follows it: it was cut off the end of the file (a crash mid-write leaves
   *  this). Otherwise intact frames follow, and they were all kept. */
  readonly tail: boolean;
}

/** What opening the log dropped. Nothing is dropped silently: this reaches `onCorruption`. */
export interface CorruptionInfo {
  readonly path: string;
  /** Where the first dropped stretch starts. */
  readonly offset: number;
  /** Bytes dropped in all. */
  readonly bytesDropped: number;
  /** Why the first stretch was dropped. `torn`: the file ends inside a frame (crash mid-write).
   *  `checksum`: a frame fails its CRC. `framing`: a frame's length cannot be right (its header
   *  fails its CRC, or it runs past the end of the file while intact frames follow it).
   *  `malformed`: the CRC matches but the body does not decode. `header`: the file was cut inside
   *  its header (a crash while creating it). */
  readonly reason: FrameDamage | "header";
  /** Every dropped stretch, in file order. */
  readonly regions: readonly DroppedRegion[];
  /** Records recovered (live after replay). */
  readonly recordsKept: number;
}

export interface Recovered {
  readonly live: Map<string, LiveEntry>;
  /** Bytes of valid log, header included: where the next frame is appended. */
  readonly end: number;
  readonly framing: Framing;
  readonly corruption: CorruptionInfo | undefined;
  /** The log should be rewritten before use: it has damage in the middle, or an older format. */
  readonly rewrite: boolean;
}

export interface Replayed {
  readonly live: Map<string, LiveEntry>;
  /** End of the last intact frame: everything after it is the tail, if any. */
  readonly end: number;
  readonly regions: DroppedRegion[];
}

/** A v1 log has no frame-header checksum, so its scans must check whole frames: this many bytes
 *  summed per byte of file (plus a constant) before recovery gives up rather than take ages. */
const V1_SCAN_BUDGET_FACTOR = 4;
const V1_SCAN_BUDGET_BASE = 64 * 1024 * 1024;

/** Applies every intact frame in order, skipping damaged ones. */
export function replay(buf: Buffer, header: LogHeader, path = "outbox"): Replayed {
  const { framing } = header;
  const live = new Map<string, LiveEntry>();
  const regions: DroppedRegion[] = [];
  const scanner = new Scanner(buf, framing, path);
  let offset = header.size;
  let intactEnd = offset;
  let tailReason: FrameDamage | undefined;
  while (offset < buf.length) {
    const frame = readFrame(buf, offset, framing);
    if (frame.status === "ok") {
      const { entries, sizes } = frame;
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i]!;
        if (typeof entry === "string") live.delete(entry);
        else live.set(entry.id, { record: entry, size: sizes[i]! });
      }
      offset += frame.size;
      intactEnd = offset;
      continue;
    }
    const next = resumeAt(buf, offset, frame, scanner);
    if (next === undefined) {
      tailReason = frame.status;
      break;
    }
    // A frame running past the end with intact frames after it has a damaged length, not a torn one.
    const reason = frame.status === "torn" ? "framing" : frame.status;
    regions.push({ offset, bytes: next - offset, reason, tail: false });
    offset = next;
  }
  if (intactEnd < buf.length) {
    // Stretches after the last intact frame join the tail, which is cut as one.
    const first = regions.findIndex((r) => r.offset >= intactEnd);
    const reason = first >= 0 ? regions[first]!.reason : tailReason!;
    if (first >= 0) regions.length = first;
    regions.push({ offset: intactEnd, bytes: buf.length - intactEnd, reason, tail: true });
  }
  return { live, end: intactEnd, regions };
}

/** Where replay goes on after the damaged frame at `offset`, or undefined if nothing intact follows. */
function resumeAt(
  buf: Buffer,
  offset: number,
  frame: Extract<FrameRead, { verified: boolean }>,
  scanner: Scanner,
): number | undefined {
  if (frame.size !== undefined && frame.verified) {
    const end = offset + frame.size;
    return end < buf.length ? end : undefined; // the last frame: nothing after it to keep
  }
  // The length may be what is damaged (v1 cannot tell): scan, so that a length that happens to
  // land on a later frame never skips the intact frames before it.
  return scanner.next(offset + 1);
}

/** Finds the next offset where a whole, intact frame starts. */
class Scanner {
  private budget: number;
  constructor(
    private readonly buf: Buffer,
    private readonly framing: Framing,
    private readonly path: string,
  ) {
    this.budget = V1_SCAN_BUDGET_FACTOR * buf.length + V1_SCAN_BUDGET_BASE;
  }

  next(from: number): number | undefined {
    const { buf, framing } = this;
    if (framing.version === 2) {
      // One byte and a 9-byte CRC per offset: linear in the bytes scanned.
      for (let p = from; p + 13 <= buf.length; p++) {
        if (frameHeaderAt(buf, p, framing.seed) && readFrame(buf, p, framing).status === "ok") return p;
      }
      return undefined;
    }
    for (let p = from; p + 9 <= buf.length; p++) {
      // Cheap tests first: type BATCH, a body that fits and starts with an entry kind.
      if (buf[p + 8] !== 1) continue;
      const length = buf.readUInt32LE(p);
      if (length < 5 || p + 9 + length > buf.length) continue;
      const kind = buf[p + 9];
      if (kind !== 1 && kind !== 2) continue;
      this.budget -= length;
      if (this.budget < 0) {
        throw storageError(
          `outbox ${this.path} is damaged beyond automatic repair (an old-format log whose damage ` +
            "would take too long to scan past); it was left as it is: move it aside to start a new outbox",
          "CORRUPT",
        );
      }
      if (readFrame(buf, p, framing).status === "ok") return p;
    }
    return undefined;
  }
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
  const header = readHeader(bytes);
  if (header.status === "foreign") {
    const what =
      header.version === undefined
        ? "is not a gmq outbox log (bad header)"
        : `is a gmq outbox log of format ${header.version}, newer than this gmq reads (${CURRENT_VERSION})`;
    throw storageError(`${path} ${what}; refusing to touch it`, "BAD_FORMAT");
  }
  if (header.status === "damaged") {
    throw storageError(
      `${path}: the header of the outbox log is damaged (both copies of its salt), so no frame in it ` +
        "can be verified; it was left as it is: move it aside to start a new outbox",
      "CORRUPT",
    );
  }
  if (header.status === "short") {
    // Crashed while creating the file: start it over.
    const fresh = newHeader();
    await handle.truncate(0);
    await handle.write(fresh.bytes, 0, fresh.bytes.length, 0);
    await handle.datasync();
    const dropped: DroppedRegion = { offset: 0, bytes: bytes.length, reason: "header", tail: true };
    return {
      live: new Map(),
      end: fresh.header.size,
      framing: fresh.header.framing,
      corruption: bytes.length > 0 ? corruptionInfo(path, [dropped], 0) : undefined,
      rewrite: false,
    };
  }
  const replayed = replay(bytes, header.header, path);
  if (replayed.end < read || size !== read) {
    await handle.truncate(replayed.end);
    await handle.datasync();
  }
  const { regions, live } = replayed;
  return {
    live,
    end: replayed.end,
    framing: header.header.framing,
    corruption: regions.length > 0 ? corruptionInfo(path, regions, live.size) : undefined,
    rewrite: regions.some((r) => !r.tail) || header.header.framing.version !== CURRENT_VERSION,
  };
}

function corruptionInfo(
  path: string,
  regions: readonly DroppedRegion[],
  recordsKept: number,
): CorruptionInfo {
  const first = regions[0]!;
  let bytesDropped = 0;
  for (const region of regions) bytesDropped += region.bytes;
  return { path, offset: first.offset, bytesDropped, reason: first.reason, regions, recordsKept };
}
