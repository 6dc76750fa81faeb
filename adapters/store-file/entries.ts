/**
 * The entries inside a frame body (see format.ts for the frame around them):
 *
 *   entry  = 1:u8 put | 2:u8 id                          (2 = delete, a tombstone for `id`)
 *   put    = flags:u8 createdAt:f64 [expiresAt:f64] [delayMs:f64] id topic [key] [routeKey]
 *            [headerCount:u32 (name value)*] payloadLen:u32 payload
 *   flags  : 1 qos 2 (else qos 1) · 2 retain true · 4 key · 8 expiresAt · 16 headers
 *            · 32 retain false (so an explicit `retain: false` round-trips) · 64 routeKey
 *            · 128 delayMs
 *
 * Integers are little-endian; a string is `len:u32le` + UTF-8 bytes. Entries apply in order; a
 * put of an existing id overwrites it. Payloads are raw bytes.
 */
import type { OutboxRecord } from "gmq";

export const ENTRY_PUT = 1;
export const ENTRY_DELETE = 2;

const F_QOS2 = 1;
const F_RETAIN = 2;
const F_KEY = 4;
const F_EXPIRES = 8;
const F_HEADERS = 16;
const F_RETAIN_FALSE = 32;
const F_ROUTE_KEY = 64;
const F_DELAY = 128;

/** A decoded frame body, in entry order: a record is a put (taking `sizes[i]` bytes of the log),
 *  a string the id of a delete. Parallel arrays rather than an object per entry: recovery decodes
 *  every record of the outbox, and allocation is most of its cost. */
export interface FrameEntries {
  readonly entries: (OutboxRecord | string)[];
  readonly sizes: number[];
}

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

// The encoder runs for every record of every group: plain functions over (buffer, offset) that
// return the next offset, with integers and doubles stored byte by byte, cost far less per record
// than Buffer's checked write methods called through a writer object.

/** A double's bytes go through this scratch pair (little-endian hosts; see putF64). */
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function putU32(buf: Buffer, p: number, v: number): number {
  buf[p] = v;
  buf[p + 1] = v >>> 8;
  buf[p + 2] = v >>> 16;
  buf[p + 3] = v >>> 24;
  return p + 4;
}

function putF64(buf: Buffer, p: number, v: number): number {
  if (!LITTLE_ENDIAN) return buf.writeDoubleLE(v, p);
  f64[0] = v;
  buf[p] = f64Bytes[0]!;
  buf[p + 1] = f64Bytes[1]!;
  buf[p + 2] = f64Bytes[2]!;
  buf[p + 3] = f64Bytes[3]!;
  buf[p + 4] = f64Bytes[4]!;
  buf[p + 5] = f64Bytes[5]!;
  buf[p + 6] = f64Bytes[6]!;
  buf[p + 7] = f64Bytes[7]!;
  return p + 8;
}

/** `len:u32le` + UTF-8 bytes; `buf` has room for the bound (3 bytes per UTF-16 unit). */
export function putString(buf: Buffer, p: number, s: string): number {
  const start = p + 4;
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
  putU32(buf, p, n);
  return start + n;
}

/** Writes a put entry at `p`; returns where it ends. */
export function writePut(buf: Buffer, p: number, r: OutboxRecord): number {
  let flags = r.qos === 2 ? F_QOS2 : 0;
  if (r.retain === true) flags |= F_RETAIN;
  else if (r.retain === false) flags |= F_RETAIN_FALSE;
  if (r.key !== undefined) flags |= F_KEY;
  if (r.expiresAt !== undefined) flags |= F_EXPIRES;
  if (r.headers) flags |= F_HEADERS;
  if (r.routeKey !== undefined) flags |= F_ROUTE_KEY;
  if (r.delayMs !== undefined) flags |= F_DELAY;
  buf[p] = ENTRY_PUT;
  buf[p + 1] = flags;
  p = putF64(buf, p + 2, r.createdAt);
  if (r.expiresAt !== undefined) p = putF64(buf, p, r.expiresAt);
  if (r.delayMs !== undefined) p = putF64(buf, p, r.delayMs);
  p = putString(buf, p, r.id);
  p = putString(buf, p, r.topic);
  if (r.key !== undefined) p = putString(buf, p, r.key);
  if (r.routeKey !== undefined) p = putString(buf, p, r.routeKey);
  if (r.headers) p = putHeaders(buf, p, r.headers);
  const payload = r.payload;
  p = putU32(buf, p, payload.byteLength);
  buf.set(payload, p);
  return p + payload.byteLength;
}

function putHeaders(buf: Buffer, p: number, headers: Readonly<Record<string, string>>): number {
  const countAt = p;
  p += 4;
  let count = 0;
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    p = putString(buf, p, name);
    p = putString(buf, p, headers[name]!);
    count++;
  }
  putU32(buf, countAt, count);
  return p;
}

/** Writes a delete entry at `p`; returns where it ends. */
export function writeDelete(buf: Buffer, p: number, id: string): number {
  buf[p] = ENTRY_DELETE;
  return putString(buf, p + 1, id);
}

/** Thrown by the reader for a body that does not decode. */
export class Malformed extends Error {}

/** Decodes the entries of a body spanning `start`..`end` of `buf`; throws Malformed. */
export function decodeEntries(buf: Buffer, start: number, end: number): FrameEntries {
  const r = new Reader(buf, start, end);
  const entries: (OutboxRecord | string)[] = [];
  const sizes: number[] = [];
  while (r.p < end) {
    const at = r.p;
    const kind = r.u8();
    if (kind === ENTRY_DELETE) entries.push(r.str());
    else if (kind === ENTRY_PUT) entries.push(readPut(r));
    else throw new Malformed();
    sizes.push(r.p - at);
  }
  return { entries, sizes };
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
