/**
 * gnode has no headers and keeps bodies as text, so a gmq message travels as a small JSON body:
 *
 *   {"gmq":1,"id":"<gmq id>","h":{"k":"v"},"t":"<payload as text>"}   (valid UTF-8 payloads)
 *   {"gmq":1,"id":"<gmq id>","h":{"k":"v"},"b":"<payload base64>"}    (any other bytes)
 *
 * `gmq` first, so a receiver tells an envelope from another producer's body by its first bytes.
 * Bodies without it (other producers) arrive as their UTF-8 bytes, with the node's id as id.
 */
import type { InboundMessage, OutboundMessage } from "gmq";

const MARK = '{"gmq":1,';
/** Pushed to wake a `/pop` that nobody waits for any more (see gnodeHttp); dropped on receipt. */
export const WAKE = '{"gmq":1,"wake":1}';
const encoder = new TextEncoder();
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

const fromBase64 = (text: string): Uint8Array => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** The body to push for `message`. */
export function encodeBody(message: OutboundMessage): string {
  let text: string | undefined;
  try {
    text = strict.decode(message.payload);
  } catch {}
  const h =
    message.headers && Object.keys(message.headers).length > 0
      ? `,"h":${JSON.stringify(message.headers)}`
      : "";
  const p = text === undefined ? `"b":"${toBase64(message.payload)}"` : `"t":${JSON.stringify(text)}`;
  return `${MARK}"id":${JSON.stringify(message.id)}${h},${p}}`;
}

/** A message as the node delivers it: `{"id":"<decimal>","body":"…","retry_count":n}`. */
export interface Delivery {
  readonly id: string;
  readonly body: string;
  readonly retry_count: number;
}

/** What an envelope holds, or undefined when `body` is not one (another producer's body). */
export function unwrap(
  body: string,
): { payload: Uint8Array; id?: string; headers?: Record<string, string> } | undefined {
  if (!body.startsWith(MARK)) return undefined;
  try {
    const e = JSON.parse(body) as { id?: unknown; h?: Record<string, string>; t?: unknown; b?: unknown };
    const payload =
      typeof e.t === "string" ? encoder.encode(e.t) : typeof e.b === "string" ? fromBase64(e.b) : undefined;
    if (!payload) return undefined;
    return { payload, ...(typeof e.id === "string" && { id: e.id }), ...(e.h && { headers: e.h }) };
  } catch {
    return undefined;
  }
}

/**
 * The inbound message inside a delivery; `gnode-id` (a decimal string) is added to its headers.
 * `nack` per spec §6: with requeue, nothing (the node redelivers after TTR, counting toward the
 * dead-letter queue); without, an ack (the message is dropped).
 */
export function decodeDelivery(topic: string, d: Delivery, ack: () => Promise<void>): InboundMessage {
  const e = unwrap(d.body);
  const retries = d.retry_count;
  return {
    topic,
    payload: e ? e.payload : encoder.encode(d.body),
    id: e?.id ?? d.id,
    headers: { ...e?.headers, "gnode-id": d.id },
    deliveryCount: retries,
    redelivered: retries > 0,
    ack,
    nack: ({ requeue }) => (requeue ? undefined : ack()),
  };
}
