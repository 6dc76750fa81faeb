/**
 * On-disk format of the file outbox: an append-only log of checksummed frames.
 *
 *   file   = header frame*                              (header: see file-header.ts)
 *   frame  = hcrc:u32le length:u32le crc:u32le type:u8 body      (v2: 13-byte frame header)
 *          | length:u32le crc:u32le type:u8 body                  (v1: 9 bytes, read only)
 *   type 1 (BATCH): body = entry*                       (entries: see entries.ts)
 *
 * One frame holds one group commit (or a chunk of it), like a LevelDB write batch: no caller in
 * a group is acknowledged before the fsync covering the whole frame, so dropping a damaged frame
 * as a unit never loses an acknowledged write of another frame, and one CRC per frame keeps
 * appends cheap. `crc` is CRC-32 (IEEE) over `type` and `body`; v2 adds `hcrc`, over `length`,
 * `crc` and `type`, so recovery can tell a frame whose body is damaged (skip exactly that frame)
 * from one whose length is damaged (scan for the next frame whose header checks out), and can test
 * any offset for "a frame starts here" in constant time. Both CRCs start from the file's seed.
 */
import type { OutboxRecord } from "gmq";
import { crc32 } from "./crc32.js";
import {
  decodeEntries,
  type FrameEntries,
  Malformed,
  putBound,
  putU32,
  writeDelete,
  writePut,
} from "./entries.js";
import type { Framing } from "./file-header.js";

export { type FrameEntries, putBound } from "./entries.js";
export { FILE_HEADER_SIZE, type Framing } from "./file-header.js";

export const FRAME_HEADER_SIZE = 13;
const V1_FRAME_HEADER_SIZE = 9;
const FRAME_BATCH = 1;
/** encodeFrames cuts a frame body here (the log writer cuts them at its buffer size). */
const FRAME_TARGET = 4 * 1024 * 1024;
/** Larger bodies are treated as corruption: a flipped high bit in `length` must not make recovery
 *  wait for (or allocate) gigabytes. Above FRAME_TARGET, as one huge record may exceed it. */
export const MAX_BODY_SIZE = 512 * 1024 * 1024;
/** The largest record the log accepts (its upper-bound size), well below MAX_BODY_SIZE. */
export const MAX_RECORD_SIZE = 256 * 1024 * 1024;

/** What a writer appends: one put or delete call. */
export type LogOp =
  | { readonly type: "put"; readonly records: readonly OutboxRecord[] }
  | { readonly type: "delete"; readonly ids: readonly string[] };

/** Why a frame could not be applied. */
export type FrameDamage =
  /** The file ends inside it (a crash mid-write, or a damaged length pointing past the end). */
  | "torn"
  /** Its v2 frame header fails `hcrc`: its length cannot be trusted. */
  | "framing"
  /** Its body fails the CRC. */
  | "checksum"
  /** The CRC matches but the body does not decode (written by a broken writer). */
  | "malformed";

export type FrameRead =
  | ({ readonly status: "ok"; readonly size: number } & FrameEntries)
  | {
      readonly status: FrameDamage;
      /** The frame's size, when its length is inside the file. */
      readonly size?: number;
      /** The size is known to be right (v2: `hcrc` holds; v1: the CRC over the frame holds). */
      readonly verified: boolean;
    };

/**
 * Encodes ops into v2 frames checksummed from `seed`, one frame per `next` call, each filling the
 * buffer it is given: a group of any size can be written through buffers of a fixed size.
 * `putSizes` gets, for every put record in order, the bytes it takes in the log (its live size).
 */
export class FrameEncoder {
  readonly putSizes: number[] = [];
  /** The next entry to encode: `ops[op]`'s entry number `entry`. */
  private op = 0;
  private entry = 0;

  constructor(
    private readonly ops: readonly LogOp[],
    private readonly seed: number,
  ) {}

  get done(): boolean {
    return this.op >= this.ops.length;
  }

  /**
   * Encodes the next frame at the start of `buf`, holding the entries that fit in its first
   * `limit` bytes (at least one), and returns its bytes. An entry larger than `buf` gets a frame
   * of its own, in a buffer allocated for it.
   */
  next(buf: Buffer, limit = buf.length): Buffer {
    const { ops, putSizes } = this;
    const end = Math.min(limit, buf.length);
    let p = FRAME_HEADER_SIZE;
    for (; this.op < ops.length; this.op++, this.entry = 0) {
      const op = ops[this.op]!;
      if (op.type === "put") {
        const { records } = op;
        for (; this.entry < records.length; this.entry++) {
          const record = records[this.entry]!;
          const bound = putBound(record);
          if (p + bound > end) {
            if (p > FRAME_HEADER_SIZE) return this.seal(buf, p);
            if (p + bound > buf.length) return this.next(Buffer.allocUnsafe(p + bound));
          }
          const start = p;
          p = writePut(buf, p, record);
          putSizes.push(p - start);
        }
      } else {
        const { ids } = op;
        for (; this.entry < ids.length; this.entry++) {
          const id = ids[this.entry]!;
          const bound = 5 + 3 * id.length;
          if (p + bound > end) {
            if (p > FRAME_HEADER_SIZE) return this.seal(buf, p);
            if (p + bound > buf.length) return this.next(Buffer.allocUnsafe(p + bound));
          }
          p = writeDelete(buf, p, id);
        }
      }
    }
    return this.seal(buf, p);
  }

  private seal(buf: Buffer, end: number): Buffer {
    sealFrame(buf, 0, end, this.seed);
    return buf.subarray(0, end);
  }
}

/** All of `ops` as frames of at most FRAME_TARGET bytes of body (bar one huge entry), in one buffer. */
export function encodeFrames(ops: readonly LogOp[], seed: number): { bytes: Buffer; putSizes: number[] } {
  let bound = FRAME_HEADER_SIZE;
  for (const op of ops) {
    // Worst case: a frame per entry.
    if (op.type === "put") for (const r of op.records) bound += FRAME_HEADER_SIZE + putBound(r);
    else for (const id of op.ids) bound += FRAME_HEADER_SIZE + 5 + 3 * id.length;
  }
  const buf = Buffer.allocUnsafe(bound);
  const encoder = new FrameEncoder(ops, seed);
  let p = 0;
  do p += encoder.next(buf.subarray(p), FRAME_HEADER_SIZE + FRAME_TARGET).length;
  while (!encoder.done);
  return { bytes: buf.subarray(0, p), putSizes: encoder.putSizes };
}

function sealFrame(buf: Buffer, start: number, end: number, seed: number): void {
  putU32(buf, start + 4, end - start - FRAME_HEADER_SIZE);
  buf[start + 12] = FRAME_BATCH;
  putU32(buf, start + 8, crc32(buf.subarray(start + 12, end), seed));
  putU32(buf, start, crc32(buf.subarray(start + 4, start + 13), seed));
}

/** Whether a v2 frame header that checks out starts at `offset` (constant time). */
export function frameHeaderAt(buf: Buffer, offset: number, seed: number): boolean {
  return (
    buf.length - offset >= FRAME_HEADER_SIZE &&
    buf[offset + 12] === FRAME_BATCH &&
    crc32(buf.subarray(offset + 4, offset + 13), seed) === buf.readUInt32LE(offset)
  );
}

/** Reads the frame at `offset`. Anything short of a whole, checksummed, decodable frame is
 *  reported, never thrown, so recovery can decide what to keep. */
export function readFrame(buf: Buffer, offset: number, framing: Framing): FrameRead {
  const v2 = framing.version === 2;
  const headerSize = v2 ? FRAME_HEADER_SIZE : V1_FRAME_HEADER_SIZE;
  if (buf.length - offset < headerSize) return { status: "torn", verified: false };
  let verified = false;
  if (v2) {
    if (crc32(buf.subarray(offset + 4, offset + 13), framing.seed) !== buf.readUInt32LE(offset)) {
      return { status: "framing", verified: false };
    }
    verified = true;
  }
  const lengthAt = v2 ? offset + 4 : offset;
  const bodyLength = buf.readUInt32LE(lengthAt);
  // Checked before anything is allocated or summed; with a verified header only a forgery gets here.
  if (bodyLength > MAX_BODY_SIZE) return { status: v2 ? "framing" : "checksum", verified: false };
  const end = offset + headerSize + bodyLength;
  if (end > buf.length) return { status: "torn", verified: false };
  const size = end - offset;
  const typeAt = lengthAt + 8;
  if (crc32(buf.subarray(typeAt, end), framing.seed) !== buf.readUInt32LE(lengthAt + 4)) {
    return { status: "checksum", size, verified };
  }
  // From here the CRC vouches for the whole frame, length included.
  if (buf[typeAt] !== FRAME_BATCH) return { status: "malformed", size, verified: true };
  try {
    return { status: "ok", size, ...decodeEntries(buf, typeAt + 1, end) };
  } catch (error) {
    if (error instanceof Malformed) return { status: "malformed", size, verified: true };
    throw error;
  }
}
