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
  ENTRY_DELETE,
  type FrameEntries,
  Malformed,
  putBound,
  Writer,
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
  const w = new Writer(Buffer.allocUnsafe(bound));
  const putSizes: number[] = [];
  let frameStart = 0;
  w.p = FRAME_HEADER_SIZE;
  // Starts a new frame when the next entry could push this one past FRAME_TARGET.
  const room = (entryBound: number): void => {
    const body = w.p - frameStart - FRAME_HEADER_SIZE;
    if (body > 0 && body + entryBound > FRAME_TARGET) {
      sealFrame(w.buf, frameStart, w.p, seed);
      frameStart = w.p;
      w.p += FRAME_HEADER_SIZE;
    }
  };
  for (const op of ops) {
    if (op.type === "put") {
      for (const record of op.records) {
        if (w.p - frameStart > FRAME_TARGET / 2) room(putBound(record));
        const before = w.p;
        writePut(w, record);
        putSizes.push(w.p - before);
      }
    } else {
      for (const id of op.ids) {
        room(5 + 3 * id.length);
        w.buf[w.p++] = ENTRY_DELETE;
        w.str(id);
      }
    }
  }
  sealFrame(w.buf, frameStart, w.p, seed);
  return { bytes: w.buf.subarray(0, w.p), putSizes };
}

function sealFrame(buf: Buffer, start: number, end: number, seed: number): void {
  buf.writeUInt32LE(end - start - FRAME_HEADER_SIZE, start + 4);
  buf[start + 12] = FRAME_BATCH;
  buf.writeUInt32LE(crc32(buf.subarray(start + 12, end), seed), start + 8);
  buf.writeUInt32LE(crc32(buf.subarray(start + 4, start + 13), seed), start);
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
