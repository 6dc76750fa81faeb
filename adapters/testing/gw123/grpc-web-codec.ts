/**
 * The byte-level pieces of the Envoy-like gRPC-web front (grpc-web-envoy.ts): frame splitting,
 * the trailer frame exactly as Envoy writes it (`name:value\r\n`, no space), grpc-go's
 * percent-encoding of `grpc-message`, and streaming base64 for the text mode.
 */

import { Buffer } from "node:buffer";

export const MESSAGE_FLAG = 0x00;
export const TRAILER_FLAG = 0x80;

export interface Frame {
  readonly flag: number;
  readonly data: Uint8Array;
}

/** One frame: flag byte, 4-byte big-endian length, payload. */
export function encodeFrame(flag: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + data.length);
  out[0] = flag;
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
}

/** Split a byte stream into whole frames. A truncated tail is an error, as for any gRPC reader. */
export async function* splitFrames(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Frame> {
  let buffer: Uint8Array = new Uint8Array(0);
  for await (const chunk of chunks) {
    buffer = buffer.length === 0 ? chunk : concat(buffer, chunk);
    while (buffer.length >= 5) {
      const length = new DataView(buffer.buffer, buffer.byteOffset, 5).getUint32(1);
      if (buffer.length < 5 + length) break;
      yield { flag: buffer[0]!, data: buffer.subarray(5, 5 + length) };
      buffer = buffer.subarray(5 + length);
    }
  }
  if (buffer.length > 0) throw new Error("gRPC-web: truncated frame");
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Trailer frame fields, `name: value` lines with any spacing, names lower-cased. */
export function parseTrailer(data: Uint8Array): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  for (const line of new TextDecoder().decode(data).split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return fields;
}

/**
 * grpc-go's status fields, always both and in this order (`grpc-message` empty on success), then
 * any other trailers. The message is re-encoded the way grpc-go encodes it.
 */
export function grpcGoTrailers(fields: ReadonlyArray<[string, string]>): Array<[string, string]> {
  const get = (name: string) => fields.find(([key]) => key === name)?.[1];
  const message = get("grpc-message") ?? "";
  return [
    ["grpc-status", get("grpc-status") ?? "0"],
    ["grpc-message", grpcPercentEncode(percentDecode(message))],
    ...fields.filter(([key]) => key !== "grpc-status" && key !== "grpc-message"),
  ];
}

/** Envoy's trailer frame body: `name:value\r\n` per field. */
export function serializeTrailer(fields: ReadonlyArray<[string, string]>): Uint8Array {
  return new TextEncoder().encode(fields.map(([key, value]) => `${key}:${value}\r\n`).join(""));
}

/** grpc-go escapes bytes outside printable ASCII, and `%`, as %XX of the UTF-8 bytes. */
export function grpcPercentEncode(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out +=
      byte < 0x20 || byte > 0x7e || byte === 0x25
        ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
        : String.fromCharCode(byte);
  }
  return out;
}

function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The text mode's request body: base64 groups of 4, padding allowed at the end of any group. */
export async function* decodeBase64Stream(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let pending = "";
  for await (const chunk of chunks) {
    pending += Buffer.from(chunk).toString("latin1").replace(/\s+/g, "");
    const whole = pending.length - (pending.length % 4);
    if (whole > 0) {
      yield decodeGroups(pending.slice(0, whole));
      pending = pending.slice(whole);
    }
  }
  if (pending.length > 0) throw new InvalidBase64Error();
}

export class InvalidBase64Error extends Error {
  override readonly name = "InvalidBase64Error";
  constructor() {
    super("Bad gRPC-web request, invalid base64 data.");
  }
}

const BASE64_GROUP = /^(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$/;

function decodeGroups(text: string): Uint8Array {
  const parts: Buffer[] = [];
  for (let i = 0; i < text.length; i += 4) {
    const group = text.slice(i, i + 4);
    if (!BASE64_GROUP.test(group)) throw new InvalidBase64Error();
    parts.push(Buffer.from(group, "base64"));
  }
  return Buffer.concat(parts);
}

/**
 * The text mode's response body: each frame is base64-encoded on its own, with its own padding,
 * as Envoy's gRPC-web filter does (so a streamed message is never held back waiting for the next).
 * Every chunk of `frames` must be one whole frame.
 */
export async function* encodeBase64Frames(frames: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const frame of frames) yield Buffer.from(Buffer.from(frame).toString("base64"), "latin1");
}
