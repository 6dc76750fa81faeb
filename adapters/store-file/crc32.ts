import * as zlib from "node:zlib";

/**
 * CRC-32 (IEEE), the checksum of every log frame. `seed` continues a running CRC:
 * `crc32(b, crc32(a)) === crc32(a ++ b)`, which is how a file's salt seeds its checksums.
 */
export type Crc32 = (data: Uint8Array, seed?: number) => number;

// zlib.crc32 is native (Node ≥ 20.15) and several times faster; older Node 20 gets the tables.
const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** Slice-by-8: table k (at k * 256) gives the CRC of a byte followed by k zero bytes, so eight
 *  bytes are folded in per step instead of one. Int32 entries keep the arithmetic in int32. */
let tables: Int32Array | undefined;

function makeTables(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) {
      const previous = t[(k - 1) * 256 + n]!;
      t[k * 256 + n] = (previous >>> 8) ^ t[previous & 0xff]!;
    }
  }
  return t;
}

function crc32Tables(data: Uint8Array, seed = 0): number {
  tables ??= makeTables();
  const t = tables;
  let crc = ~seed;
  let i = 0;
  for (const end = data.length - 8; i <= end; i += 8) {
    const a = crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    const b = data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24);
    crc =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + (b & 0xff)]! ^
      t[512 + ((b >>> 8) & 0xff)]! ^
      t[256 + ((b >>> 16) & 0xff)]! ^
      t[b >>> 24]!;
  }
  for (; i < data.length; i++) crc = t[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

export const crc32: Crc32 = native ? (data, seed = 0) => native(data, seed) >>> 0 : crc32Tables;

/** Exposed so a test can prove both implementations agree. */
export const crc32Portable: Crc32 = crc32Tables;
