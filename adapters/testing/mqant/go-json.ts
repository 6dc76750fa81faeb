/**
 * JSON the way Go's encoding/json writes it (spec §3.3): compact, map keys sorted by their UTF-8
 * bytes, `<` `>` `&` escaped as \u003c \u003e \u0026, U+2028/U+2029 escaped, invalid UTF-16
 * (lone surrogates, which Go would see as invalid UTF-8) written as \ufffd, byte slices as padded
 * standard base64, and NaN/±Inf refused like Go's UnsupportedValueError.
 */

import { Buffer } from "node:buffer";

/** What json.Marshal returns as an error; the gate then replies with this text and Result null. */
export class GoJsonError extends Error {
  override readonly name = "GoJsonError";
}

const HEX = "0123456789abcdef";

/** Encode a string as a Go JSON string literal (with HTML escaping, as json.Marshal does). */
export function goString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 0xd800 && c <= 0xdfff) {
      out += "\\ufffd";
    } else if (c === 0x22) {
      out += '\\"';
    } else if (c === 0x5c) {
      out += "\\\\";
    } else if (c === 0x0a) {
      out += "\\n";
    } else if (c === 0x0d) {
      out += "\\r";
    } else if (c === 0x09) {
      out += "\\t";
    } else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26) {
      // Go (before 1.22, which the gate was built with) writes \b and \f as \u0008 and \u000c too.
      out += `\\u00${HEX[c >> 4]}${HEX[c & 15]}`;
    } else if (c === 0x2028 || c === 0x2029) {
      out += `\\u${c.toString(16)}`;
    } else {
      out += ch;
    }
  }
  return out + '"';
}

/** Go float64 formatting: like JS except that negative zero keeps its sign. */
function goNumber(n: number): string {
  if (!Number.isFinite(n)) {
    throw new GoJsonError(`json: unsupported value: ${Number.isNaN(n) ? "NaN" : n > 0 ? "+Inf" : "-Inf"}`);
  }
  return Object.is(n, -0) ? "-0" : String(n);
}

/** Go sorts map keys by their UTF-8 bytes, which is code point order (not UTF-16 unit order). */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** A Go struct value: its fields are encoded in declaration order (maps sort their keys, structs do not). */
export class GoStruct {
  constructor(readonly fields: ReadonlyArray<readonly [string, unknown]>) {}
}

/** Shorthand for a struct with these fields, in this order (omitempty is the caller's business). */
export function goStruct(fields: Record<string, unknown>): GoStruct {
  return new GoStruct(Object.entries(fields));
}

/**
 * Encode a handler result. Plain objects and Maps are Go maps (sorted keys); arrays are slices;
 * Uint8Array/ArrayBuffer are []byte; bigint is int64; objects with `toJSON` are encoded through it
 * (a returned session uses that to become `{}`); undefined, functions and symbols inside objects
 * are skipped and anywhere else become null.
 */
export function goJson(value: unknown): string {
  return encode(value, new Set());
}

function encode(value: unknown, seen: Set<object>): string {
  switch (typeof value) {
    case "string":
      return goString(value);
    case "number":
      return goNumber(value);
    case "bigint":
      return value.toString();
    case "boolean":
      return value ? "true" : "false";
    case "undefined":
    case "function":
    case "symbol":
      return "null";
  }
  if (value === null) return "null";
  const obj = value as object;
  if (obj instanceof Uint8Array) return goString(base64(obj));
  if (obj instanceof ArrayBuffer) return goString(base64(new Uint8Array(obj)));
  if (obj instanceof Date) return goString(obj.toISOString());
  if (obj instanceof GoStruct) {
    return `{${obj.fields.map(([k, v]) => `${goString(k)}:${encode(v, seen)}`).join(",")}}`;
  }
  if (seen.has(obj)) throw new GoJsonError("json: unsupported value: encountered a cycle");
  seen.add(obj);
  try {
    if (typeof (obj as { toJSON?: unknown }).toJSON === "function") {
      return encode((obj as { toJSON(): unknown }).toJSON(), seen);
    }
    if (Array.isArray(obj)) return `[${obj.map((v) => encode(v, seen)).join(",")}]`;
    const entries: Array<[string, unknown]> =
      obj instanceof Map ? [...obj.entries()].map(([k, v]) => [String(k), v]) : Object.entries(obj);
    const parts: string[] = [];
    for (const [k, v] of entries.sort((a, b) => compareKeys(a[0], b[0]))) {
      if (v === undefined || typeof v === "function" || typeof v === "symbol") continue;
      parts.push(`${goString(k)}:${encode(v, seen)}`);
    }
    return `{${parts.join(",")}}`;
  } finally {
    seen.delete(obj);
  }
}

/** The reply envelope, keys in the gate's order: Trace, Error, Result (already-encoded JSON). */
export function envelope(trace: string, error: string, resultJson = "null"): Uint8Array {
  return new TextEncoder().encode(
    `{"Trace":${goString(trace)},"Error":${goString(error)},"Result":${resultJson}}`,
  );
}
