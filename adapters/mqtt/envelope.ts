/**
 * The opt-in JSON envelope for MQTT 3.1.1, which has no user properties:
 *
 *   {"gmq":1,"id":"…","h":{"k":"v"},"rt":"reply/topic","cid":"…","p":"<payload base64>"}
 *
 * `gmq` comes first so a receiver can tell an envelope from any other payload by its first
 * bytes, without parsing. Only gmq peers understand it; plain MQTT clients see the JSON.
 */
import { GmqError, type OutboundMessage } from "gmq";

export interface Unwrapped {
  readonly payload: Uint8Array;
  readonly id?: string;
  readonly headers?: Record<string, string>;
  readonly replyTo?: string;
  readonly correlationId?: string;
}

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();
const MARK = encoder.encode('{"gmq":1,');

interface NodeBuffer {
  from(data: Uint8Array | string, encoding?: string): Uint8Array & { toString(encoding: string): string };
}
const NodeBuffer = (globalThis as { Buffer?: NodeBuffer }).Buffer;

export function toBase64(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes).toString("base64");
  let binary = "";
  // Chunked: String.fromCharCode with a huge argument list overflows the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new Error("invalid base64");
  if (NodeBuffer) return NodeBuffer.from(text, "base64");
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export function wrap(message: OutboundMessage): Uint8Array {
  const body: Record<string, unknown> = { gmq: 1, id: message.id };
  if (message.headers && Object.keys(message.headers).length > 0) body.h = message.headers;
  if (message.replyTo !== undefined) body.rt = message.replyTo;
  if (message.correlationId !== undefined) body.cid = message.correlationId;
  body.p = toBase64(message.payload);
  return encoder.encode(JSON.stringify(body));
}

export function isEnvelope(payload: Uint8Array): boolean {
  if (payload.length < MARK.length) return false;
  for (let i = 0; i < MARK.length; i++) if (payload[i] !== MARK[i]) return false;
  return true;
}

/** Sets a header; plain assignment of "__proto__" would set the prototype instead. */
export function setHeader(headers: Record<string, string>, name: string, value: string): void {
  if (name === "__proto__")
    Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
  else headers[name] = value;
}

const optionalString = (value: unknown): value is string | undefined =>
  value === undefined || typeof value === "string";

/** The message inside an envelope. Throws GmqError `protocol` when the envelope is malformed. */
export function unwrap(payload: Uint8Array): Unwrapped {
  try {
    const body = JSON.parse(decoder.decode(payload)) as Record<string, unknown>;
    const { id, h, rt, cid, p } = body;
    if (typeof p !== "string" || !optionalString(id) || !optionalString(rt) || !optionalString(cid)) {
      throw new Error("missing or mistyped fields");
    }
    let headers: Record<string, string> | undefined;
    if (h !== undefined) {
      if (typeof h !== "object" || h === null || Array.isArray(h))
        throw new Error("headers must be an object");
      headers = {};
      for (const [key, value] of Object.entries(h)) {
        if (typeof value !== "string") throw new Error(`header ${key} is not a string`);
        setHeader(headers, key, value);
      }
    }
    return {
      payload: fromBase64(p),
      ...(id !== undefined && { id }),
      ...(headers && { headers }),
      ...(rt !== undefined && { replyTo: rt }),
      ...(cid !== undefined && { correlationId: cid }),
    };
  } catch (error) {
    throw new GmqError("protocol", `malformed gmq envelope: ${(error as Error).message}`, {
      cause: error,
      reason: "MALFORMED_ENVELOPE",
    });
  }
}
