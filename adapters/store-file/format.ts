/**
 * On-disk format of the file outbox: an append-only log of checksummed frames.
 *
 *   file   = header frame*
 *   header = "GMQOBX" 0x00 VERSION                      (8 bytes)
 *   frame  = length:u32le crc:u32le type:u8 body       (9-byte frame header + `length` body bytes)
 *   type 1 (BATCH): body = entry*
 *
 * One frame holds one group commit (or a chunk of it), like a LevelDB write batch: no caller in
 * a group is acknowledged before the fsync covering the whole frame, so dropping a torn frame as a
 * unit never loses an acknowledged write, and one CRC per frame keeps appends cheap. `crc` is
 * CRC-32 (IEEE) over `type` and `body`; a bad `length` makes the checksummed range wrong and fails
 * it too. Integers are little-endian; a string is `len:u32le` + UTF-8 bytes.
 *
 *   entry  = 1:u8 put | 2:u8 id                          (2 = delete, a tombstone for `id`)
 *   put    = flags:u8 createdAt:f64 [expiresAt:f64] [delayMs:f64] id topic [key] [routeKey]
 *            [headerCount:u32 (name value)*] payloadLen:u32 payload
 *   flags  : 1 qos 2 (else qos 1) · 2 retain true · 4 key · 8 expiresAt · 16 headers
 *            · 32 retain false (so an explicit `retain: false` round-trips) · 64 routeKey
 *            · 128 delayMs
 *
 * Entries apply in order; a put of an existing id overwrites it. Payloads are raw bytes.
 */
import type { OutboxRecord } from "gmq";
import { crc32 } from "./crc32.js";

export const FORMAT_VERSION = 1;
export const FILE_HEADER: Uint8Array = Buffer.from([
  0x47,
  0x4d,
  0x51,
  0x4f,
  0x42,
  0x58,
  0x00,
  FORMAT_VERSION,
]);
export const FILE_HEADER_SIZE = FILE_HEADER.length;
export const FRAME_HEADER_SIZE = 9;
const FRAME_BATCH = 1;
const ENTRY_PUT = 1;
const ENTRY_DELETE = 2;
/** A frame body is cut here when a group is larger, so memory per frame stays bounded. */
const FRAME_TARGET = 4 * 1024 * 1024;
/** Larger bodies are treated as corruption: a flipped high bit in `length` must not make recovery
 *  wait for (or allocate) gigabytes. Above FRAME_TARGET, as one huge record may exceed it. */
export const MAX_BODY_SIZE = 512 * 1024 * 1024;

const F_QOS2 = 1;
const F_RETAIN = 2;
const F_KEY = 4;
const F_EXPIRES = 8;
const F_HEADERS = 16;
const F_RETAIN_FALSE = 32;
const F_ROUTE_KEY = 64;
const F_DELAY = 128;

/** What a writer appends: one put or delete call. */
export type LogOp =
  | { readonly type: "put"; readonly records: readonly OutboxRecord[] }
  | { readonly type: "delete"; readonly ids: readonly string[] };

/** A decoded frame, in entry order: a record is a put (taking `sizes[i]` bytes of the log), a
 *  string the id of a delete. Parallel arrays rather than an object per entry: recovery decodes
 *  every record of the outbox, and allocation is most of its cost. */
export interface FrameEntries {
  readonly entries: (OutboxRecord | string)[];
  readonly sizes: number[];
}

export type FrameRead =
  | ({ readonly status: "ok"; readonly size: number } & FrameEntries)
  | { readonly status: "torn" | "checksum" | "malformed" };

/** What the header at the start of a file says. `short` means a crash while creating the file. */
export function checkFileHeader(bytes: Uint8Array): "ok" | "short" | "foreign" {
  const n = Math.min(bytes.length, FILE_HEADER_SIZE);
  for (let i = 0; i < n; i++) if (bytes[i] !== FILE_HEADER[i]) return "foreign";
  // A prefix of our header (or nothing) is a creation that never finished.
  return bytes.length < FILE_HEADER_SIZE ? "short" : "ok";
}

/** The largest record the log accepts (its upper-bound size), well below MAX_BODY_SIZE. */
export const MAX_RECORD_SIZE = 256 * 1024 * 1024;

/** An upper bound of a record's encoded size (UTF-8 is at most 3 bytes per UTF-16 unit). */
export function putBound(r: OutboxRecord): number {
  let size = 1 + 1 + 8 + 8 + 4 + 3 * r.id.length + 4 + 3 * r.topic.length + 4 + r.payload.byteLength;
  if (r.key !== undefined) size += 4 + 3 * r.key.length;
  if (r.routeKey !== undefined) size += 4 + 3 * r.routeKey.length;
  if (r.delayMs !== undefined) size += 8;
  if (r.headers) {
    size += 4;
    for (const name in r.headers) {
      if (Object.hasOwn(r.headers, name)) size += 8 + 3 * (name.length + (r.headers[name]?.length ?? 0));
    }
  }
  return size;
}

/**
 * Encodes ops into frames, cutting a new frame when one would pass FRAME_TARGET bytes.
 * `putSizes` has, for every put record in order, the bytes it takes in the log (its live size).
 */
export function encodeFrames(ops: readonly LogOp[]): { bytes: Buffer; putSizes: number[] } {
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
      sealFrame(w.buf, frameStart, w.p);
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
  sealFrame(w.buf, frameStart, w.p);
  return { bytes: w.buf.subarray(0, w.p), putSizes };
}

function sealFrame(buf: Buffer, start: number, end: number): void {
  buf.writeUInt32LE(end - start - FRAME_HEADER_SIZE, start);
  buf[start + 8] = FRAME_BATCH;
  buf.writeUInt32LE(crc32(buf.subarray(start + 8, end)), start + 4);
}

class Writer {
  p = 0;
  constructor(readonly buf: Buffer) {}
  u32(v: number): void {
    this.buf.writeUInt32LE(v, this.p);
    this.p += 4;
  }
  f64(v: number): void {
    this.buf.writeDoubleLE(v, this.p);
    this.p += 8;
  }
  str(s: string): void {
    const { buf } = this;
    const start = this.p + 4;
    let n = 0;
    // Ids and topics are short and usually ASCII: a JS loop beats a native call per string.
    if (s.length <= 64) {
      for (; n < s.length; n++) {
        const c = s.charCodeAt(n);
        if (c >= 0x80) break;
        buf[start + n] = c;
      }
    }
    if (n < s.length) n = buf.write(s, start, "utf8");
    buf.writeUInt32LE(n, this.p);
    this.p = start + n;
  }
}

function writePut(w: Writer, r: OutboxRecord): void {
  let flags = r.qos === 2 ? F_QOS2 : 0;
  if (r.retain === true) flags |= F_RETAIN;
  else if (r.retain === false) flags |= F_RETAIN_FALSE;
  if (r.key !== undefined) flags |= F_KEY;
  if (r.expiresAt !== undefined) flags |= F_EXPIRES;
  if (r.headers) flags |= F_HEADERS;
  if (r.routeKey !== undefined) flags |= F_ROUTE_KEY;
  if (r.delayMs !== undefined) flags |= F_DELAY;
  w.buf[w.p++] = ENTRY_PUT;
  w.buf[w.p++] = flags;
  w.f64(r.createdAt);
  if (r.expiresAt !== undefined) w.f64(r.expiresAt);
  if (r.delayMs !== undefined) w.f64(r.delayMs);
  w.str(r.id);
  w.str(r.topic);
  if (r.key !== undefined) w.str(r.key);
  if (r.routeKey !== undefined) w.str(r.routeKey);
  if (r.headers) {
    const countAt = w.p;
    w.p += 4;
    let count = 0;
    for (const name in r.headers) {
      if (!Object.hasOwn(r.headers, name)) continue;
      w.str(name);
      w.str(r.headers[name]!);
      count++;
    }
    w.buf.writeUInt32LE(count, countAt);
  }
  w.u32(r.payload.byteLength);
  w.buf.set(r.payload, w.p);
  w.p += r.payload.byteLength;
}

class Malformed extends Error {}

/** Reads the frame at `offset`. Anything short of a whole, checksummed, decodable frame is
 *  reported, never thrown, so recovery can cut the log there. */
export function readFrame(buf: Buffer, offset: number): FrameRead {
  if (buf.length - offset < FRAME_HEADER_SIZE) return { status: "torn" };
  const bodyLength = buf.readUInt32LE(offset);
  if (bodyLength > MAX_BODY_SIZE) return { status: "checksum" };
  const end = offset + FRAME_HEADER_SIZE + bodyLength;
  if (end > buf.length) return { status: "torn" };
  if (crc32(buf.subarray(offset + 8, end)) !== buf.readUInt32LE(offset + 4)) return { status: "checksum" };
  if (buf[offset + 8] !== FRAME_BATCH) return { status: "malformed" };
  try {
    const r = new Reader(buf, offset + FRAME_HEADER_SIZE, end);
    const entries: (OutboxRecord | string)[] = [];
    const sizes: number[] = [];
    while (r.p < end) {
      const start = r.p;
      const kind = r.u8();
      if (kind === ENTRY_DELETE) entries.push(r.str());
      else if (kind === ENTRY_PUT) entries.push(readPut(r));
      else throw new Malformed();
      sizes.push(r.p - start);
    }
    return { status: "ok", entries, sizes, size: end - offset };
  } catch (error) {
    if (error instanceof Malformed) return { status: "malformed" };
    throw error;
  }
}

class Reader {
  /** Payloads of this frame are copied into one slab (one allocation per frame, not per record);
   *  records hold views of it, so it lives until all of them are gone. */
  private slab: Uint8Array | undefined;
  private slabUsed = 0;
  constructor(
    readonly buf: Buffer,
    public p: number,
    readonly end: number,
  ) {}
  bytes(n: number): Uint8Array {
    this.need(n);
    this.slab ??= new Uint8Array(this.end - this.p);
    const view = new Uint8Array(this.slab.buffer, this.slabUsed, n);
    view.set(this.buf.subarray(this.p, this.p + n));
    this.slabUsed += n;
    this.p += n;
    return view;
  }
  need(n: number): void {
    if (this.p + n > this.end) throw new Malformed();
  }
  u8(): number {
    this.need(1);
    return this.buf[this.p++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.p);
    this.p += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.p);
    this.p += 8;
    return v;
  }
  str(): string {
    const n = this.u32();
    this.need(n);
    const { buf, p } = this;
    this.p += n;
    return buf.toString("utf8", p, p + n);
  }
}

function readPut(r: Reader): OutboxRecord {
  const flags = r.u8();
  const createdAt = r.f64();
  const expiresAt = flags & F_EXPIRES ? r.f64() : undefined;
  const delayMs = flags & F_DELAY ? r.f64() : undefined;
  const id = r.str();
  const topic = r.str();
  const key = flags & F_KEY ? r.str() : undefined;
  const routeKey = flags & F_ROUTE_KEY ? r.str() : undefined;
  let headers: Record<string, string> | undefined;
  if (flags & F_HEADERS) {
    const count = r.u32();
    // Each header takes at least 8 bytes: a larger count is corruption, not a huge allocation.
    if (count > (r.end - r.p) / 8) throw new Malformed();
    headers = {};
    for (let i = 0; i < count; i++) {
      const name = r.str();
      const value = r.str();
      // Plain assignment of "__proto__" would set the prototype instead of adding a header.
      if (name === "__proto__")
        Object.defineProperty(headers, name, { value, enumerable: true, writable: true });
      else headers[name] = value;
    }
  }
  // A copy, so a record does not keep the whole file buffer alive.
  const payload = r.bytes(r.u32());
  const record: { -readonly [K in keyof OutboxRecord]: OutboxRecord[K] } = {
    id,
    topic,
    payload,
    qos: flags & F_QOS2 ? 2 : 1,
    createdAt,
  };
  if (headers) record.headers = headers;
  if (flags & F_RETAIN) record.retain = true;
  else if (flags & F_RETAIN_FALSE) record.retain = false;
  if (key !== undefined) record.key = key;
  if (expiresAt !== undefined) record.expiresAt = expiresAt;
  if (delayMs !== undefined) record.delayMs = delayMs;
  if (routeKey !== undefined) record.routeKey = routeKey;
  return record;
}
