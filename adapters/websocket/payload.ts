/**
 * Payloads on the wire (protocol §3): bytes that are valid UTF-8 travel as text, anything else
 * as standard base64 with `enc: "b64"`. The hub never decodes them.
 */
import { GmqError } from "gmq";
import type { WirePayload } from "./protocol.js";

export const encoder = new TextEncoder();
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Sets `payload` (and `enc`) on `frame` for these bytes; nothing for zero bytes. */
export function putPayload(frame: WirePayload, bytes: Uint8Array): void {
  if (bytes.byteLength === 0) return;
  try {
    frame.payload = strict.decode(bytes);
  } catch {
    // btoa takes a binary string; built in slices to stay clear of argument limits.
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    frame.payload = btoa(binary);
    frame.enc = "b64";
  }
}

/** The bytes of a received `payload`/`enc`; a `protocol` error for anything else. */
export function takePayload({ payload = "", enc }: { payload?: unknown; enc?: unknown }): Uint8Array {
  if (typeof payload === "string" && enc === undefined) return encoder.encode(payload);
  try {
    if (typeof payload !== "string" || enc !== "b64") throw 0;
    return Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
  } catch (cause) {
    throw new GmqError("protocol", `payload: unreadable as ${enc ?? "text"}`, { cause });
  }
}
