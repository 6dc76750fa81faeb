/**
 * Payloads on the wire (protocol §3): bytes that are valid UTF-8 travel as text, anything else
 * as standard base64 with `enc: "b64"`. The hub never decodes them.
 */
import { GmqError } from "gmq";
import type { WirePayload } from "./protocol.js";

const encoder = new TextEncoder();
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const EMPTY = new Uint8Array(0);
/** btoa/atob take binary strings; build them in slices to stay clear of argument limits. */
const CHUNK = 0x8000;

/** Sets `payload` (and `enc`) on `frame` for these bytes; nothing for zero bytes. */
export function putPayload(frame: WirePayload, bytes: Uint8Array): void {
  if (bytes.byteLength === 0) return;
  try {
    frame.payload = strict.decode(bytes);
  } catch {
    frame.payload = toBase64(bytes);
    frame.enc = "b64";
  }
}

/** The bytes of a received `payload`/`enc`. */
export function takePayload(frame: { payload?: unknown; enc?: unknown }): Uint8Array {
  const { payload, enc } = frame;
  if (payload === undefined || payload === "") return EMPTY;
  if (typeof payload !== "string") throw new GmqError("protocol", "payload: must be a string");
  if (enc === undefined) return encoder.encode(payload);
  if (enc !== "b64") throw new GmqError("protocol", `enc: unknown encoding "${String(enc)}"`);
  try {
    const binary = atob(payload);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch (cause) {
    throw new GmqError("protocol", "payload: not valid base64", { cause });
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return btoa(binary);
}
