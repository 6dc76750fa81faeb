import * as zlib from "node:zlib";

/**
 * CRC-32 (IEEE), the checksum of every log frame. `seed` continues a running CRC:
 * `crc32(b, crc32(a)) === crc32(a ++ b)`, which is how a file's salt seeds its checksums.
 */
export type Crc32 = (data: Uint8Array, seed?: number) => number;

// zlib.crc32 is native (Node ≥ 20.15) and several times faster; older Node 20 gets the table.
const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

let table: Uint32Array | undefined;

function crc32Table(data: Uint8Array, seed = 0): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = (seed ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export const crc32: Crc32 = native ? (data, seed = 0) => native(data, seed) >>> 0 : crc32Table;

/** Exposed so a test can prove both implementations agree. */
export const crc32Portable: Crc32 = crc32Table;
