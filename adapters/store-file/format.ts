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
/** A frame body is cut here when a group is larger, so memory per frame stays bounded. */
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
 * Encodes ops into v2 frames checksummed from `seed`, cutting a new frame when one would pass
 * FRAME_TARGET bytes. `putSizes` has, for every put record in order, the bytes it takes in the log
 * (its live size).
 */
export function encodeFrames(ops: readonly LogOp[], seed: number): { bytes: Buffer; putSizes: number[] } {
  let bound = FRAME_HEADER_SIZE;
  for (const op of ops) {
    // Worst case: a frame per entry.
    if (op.type === "put") for (const r of op.records) bound += FRAME_HEADER_SIZE + putBound(r);
    else for (const id of op.ids) bound += FRAME_HEADER_SIZE + 5 + 3 * id.length;
  }
  const buf = Buffer.allocUnsafe(bound);
  const putSizes: number[] = [];
  let frameStart = 0;
  let p = FRAME_HEADER_SIZE;
  for (const op of ops) {
    if (op.type === "put") {
      const { records } = op;
      for (let i = 0; i < records.length; i++) {
        const record = records[i]!;
        // Only a frame past half its target can be pushed over it by one more record.
        if (p - frameStart > FRAME_TARGET / 2 && fullAfter(p - frameStart, putBound(record))) {
          sealFrame(buf, frameStart, p, seed);
          frameStart = p;
          p += FRAME_HEADER_SIZE;
        }
        const before = p;
        p = writePut(buf, p, record);
        putSizes.push(p - before);
      }
    } else {
      for (const id of op.ids) {
        if (fullAfter(p - frameStart, 5 + 3 * id.length)) {
          sealFrame(buf, frameStart, p, seed);
          frameStart = p;
          p += FRAME_HEADER_SIZE;
        }
        p = writeDelete(buf, p, id);
      }
    }
  }
  sealFrame(buf, frameStart, p, seed);
  return { bytes: buf.subarray(0, p), putSizes };
}

/** Whether a frame of `frameSize` bytes so far must be sealed before an entry of `entryBound`. */
function fullAfter(frameSize: number, entryBound: number): boolean {
  const body = frameSize - FRAME_HEADER_SIZE;
  return body > 0 && body + entryBound > FRAME_TARGET;
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
