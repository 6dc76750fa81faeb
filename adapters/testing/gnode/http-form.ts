/**
 * Where gnode's HTTP handlers get their parameters (spec §2), as Go's net/http provides them:
 * `URL.Query()` for every endpoint, and for `/push` `r.FormValue("data")`, which puts an
 * urlencoded POST/PUT/PATCH body (≤ 10 MiB) before the query and multipart values after it.
 */

import { Buffer } from "node:buffer";
import { goUtf8 } from "./go-values.js";

/** Go's `maxFormSize`: a bigger urlencoded body parses as no values at all. */
export const MAX_URLENCODED_BYTES = 10 * 1024 * 1024;
/** Roughly Go's multipart limit for non-file values (32 MiB of memory plus 10 MiB). */
export const MAX_MULTIPART_BYTES = 42 * 1024 * 1024;

/** url.Values: each key's values in order; values are bytes, as Go strings are. */
export class GoValues {
  readonly #m = new Map<string, Buffer[]>();

  add(key: string, value: Buffer): void {
    const list = this.#m.get(key);
    if (list) list.push(value);
    else this.#m.set(key, [value]);
  }

  addAll(other: GoValues): void {
    for (const [k, vs] of other.#m) for (const v of vs) this.add(k, v);
  }

  firstBytes(key: string): Buffer | undefined {
    return this.#m.get(key)?.[0];
  }

  /** `Values.Get`: the first value or "". */
  get(key: string): string {
    const v = this.firstBytes(key);
    return v ? goUtf8(v) : "";
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * url.QueryUnescape / PathUnescape over raw bytes: `%` needs two hex digits (else undefined), and
 * `+` is a space only in query components.
 */
export function goUnescape(raw: Buffer, plusIsSpace: boolean): Buffer | undefined {
  if (!raw.includes(0x25) && !(plusIsSpace && raw.includes(0x2b))) return raw;
  const out = Buffer.allocUnsafe(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === 0x25) {
      const hi = hexValue(raw[i + 1] ?? -1);
      const lo = hexValue(raw[i + 2] ?? -1);
      if (hi < 0 || lo < 0) return undefined;
      out[n++] = hi * 16 + lo;
      i += 2;
    } else {
      out[n++] = plusIsSpace && c === 0x2b ? 0x20 : c;
    }
  }
  return out.subarray(0, n);
}

/** url.ParseQuery: pairs with a `;` or a bad escape are skipped, the rest are kept. */
export function parseGoQuery(raw: Buffer): GoValues {
  const values = new GoValues();
  let start = 0;
  for (let i = 0; i <= raw.length; i++) {
    if (i < raw.length && raw[i] !== 0x26) continue;
    const pair = raw.subarray(start, i);
    start = i + 1;
    if (pair.length === 0 || pair.includes(0x3b)) continue;
    const eq = pair.indexOf(0x3d);
    const key = goUnescape(eq < 0 ? pair : pair.subarray(0, eq), true);
    const value = goUnescape(eq < 0 ? Buffer.alloc(0) : pair.subarray(eq + 1), true);
    if (key && value) values.add(goUtf8(key), value);
  }
  return values;
}

/** The media type of a Content-Type header, lowercased, without parameters. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? "").split(";", 1)[0]!.trim().toLowerCase();
}

export type BodyKind = "urlencoded" | "multipart" | "ignored";

/** Which body FormValue would parse for this request. */
export function formBodyKind(method: string, contentType: string | undefined): BodyKind {
  const type = mediaType(contentType);
  if (type === "multipart/form-data") return "multipart";
  if (type === "application/x-www-form-urlencoded" && ["POST", "PUT", "PATCH"].includes(method)) {
    return "urlencoded";
  }
  return "ignored";
}

/** The non-file values of a multipart body, or undefined if it does not parse. */
export async function parseMultipart(body: Buffer, contentType: string): Promise<GoValues | undefined> {
  try {
    const form = await new Response(new Uint8Array(body), {
      headers: { "content-type": contentType },
    }).formData();
    const values = new GoValues();
    for (const [key, value] of form) {
      if (typeof value === "string") values.add(key, Buffer.from(value, "utf8"));
    }
    return values;
  } catch {
    return undefined;
  }
}

/**
 * `r.FormValue(key)` for one request: the urlencoded body's values come before the query's
 * (the body wins), multipart values come after them (the query wins), and a body that is too
 * big or does not parse contributes nothing.
 */
export async function formValue(
  key: string,
  query: GoValues,
  kind: BodyKind,
  body: { bytes: Buffer; tooLarge: boolean },
  contentType: string | undefined,
): Promise<Buffer | undefined> {
  const form = new GoValues();
  if (kind === "urlencoded" && !body.tooLarge) form.addAll(parseGoQuery(body.bytes));
  form.addAll(query);
  if (kind === "multipart" && !body.tooLarge) {
    const parts = await parseMultipart(body.bytes, contentType ?? "");
    if (parts) form.addAll(parts);
  }
  return form.firstBytes(key);
}
