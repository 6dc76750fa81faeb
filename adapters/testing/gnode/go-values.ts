/**
 * Go value conversions gnode's replies depend on: `strconv.Atoi`/`ParseInt` with the error
 * ignored, the uint conversions applied to ids and delays, and how Go turns bytes into JSON text
 * (every invalid UTF-8 byte becomes one U+FFFD, HTML characters are escaped).
 */

import { goString } from "../mqant/go-json.js";

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const DECIMAL = /^[+-]?[0-9]+$/;

/**
 * `v, _ := strconv.Atoi(s)` on a 64-bit build (also `ParseInt(s, 10, 64)`): anything but an optional
 * sign and decimal digits gives 0 (`""`, `"1.0"`, `" 1"`, `"0x1"`), and out-of-range values are
 * clamped to the int64 limits, because that is what ParseInt returns alongside its range error.
 */
export function goParseInt(text: string): bigint {
  if (!DECIMAL.test(text)) return 0n;
  const v = BigInt(text);
  return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : v;
}

/** `uint64(v)` for an int64 (ids printed by `ack` errors). */
export const goUint64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** `uint32(v)` for an int (the stored delay: `-1` becomes 4294967295 s). */
export const goUint32 = (v: bigint): number => Number(BigInt.asUintN(32, v));

/** A clamped int64 as a JS number, for comparisons against small settings. */
export const toNumber = (v: bigint): number => Number(v);

// ignoreBOM: Go keeps a U+FEFF wherever it is; TextDecoder would drop one at the start of each decode.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Bytes as a Go string turned into text: each byte that is not part of valid UTF-8 becomes U+FFFD. */
export function goUtf8(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return decodeLenient(bytes);
  }
}

function decodeLenient(b: Uint8Array): string {
  let out = "";
  let i = 0;
  while (i < b.length) {
    const [cp, size] = decodeRune(b, i);
    out += cp < 0 ? "\ufffd" : String.fromCodePoint(cp);
    i += size;
  }
  return out;
}

/** Go's utf8.DecodeRune: returns [-1, 1] for an invalid byte (overlong, surrogate, out of range, truncated). */
function decodeRune(b: Uint8Array, i: number): [number, number] {
  const c0 = b[i]!;
  if (c0 < 0x80) return [c0, 1];
  const cont = (k: number, lo = 0x80, hi = 0xbf): number => {
    const c = b[i + k];
    return c !== undefined && c >= lo && c <= hi ? c & 0x3f : -1;
  };
  if (c0 >= 0xc2 && c0 <= 0xdf) {
    const c1 = cont(1);
    return c1 < 0 ? [-1, 1] : [((c0 & 0x1f) << 6) | c1, 2];
  }
  if (c0 >= 0xe0 && c0 <= 0xef) {
    const c1 = cont(1, c0 === 0xe0 ? 0xa0 : 0x80, c0 === 0xed ? 0x9f : 0xbf);
    const c2 = c1 < 0 ? -1 : cont(2);
    return c2 < 0 ? [-1, 1] : [((c0 & 0x0f) << 12) | (c1 << 6) | c2, 3];
  }
  if (c0 >= 0xf0 && c0 <= 0xf4) {
    const c1 = cont(1, c0 === 0xf0 ? 0x90 : 0x80, c0 === 0xf4 ? 0x8f : 0xbf);
    const c2 = c1 < 0 ? -1 : cont(2);
    const c3 = c2 < 0 ? -1 : cont(3);
    return c3 < 0 ? [-1, 1] : [((c0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3, 4];
  }
  return [-1, 1];
}

/** A Go string (bytes or text) as a JSON string literal, the way json.Marshal writes it. */
export function goJsonString(value: Uint8Array | string): string {
  return goString(typeof value === "string" ? value : goUtf8(value));
}
