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
import { encoder } from "./names.js";
import { badReply } from "./reasons.js";

const MARK = '{"gmq":1,';
/** Pushed to wake a `/pop` that nobody waits for any more (see gnodeHttp); dropped on receipt. */
export const WAKE = '{"gmq":1,"wake":1}';
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The body to push for `message`. */
export function encodeBody(message: OutboundMessage): string {
  let t: string | undefined;
  try {
    t = strict.decode(message.payload);
  } catch {}
  // Key order as above; JSON leaves out what is undefined.
  return JSON.stringify({
    gmq: 1,
    id: message.id,
    h: message.headers,
    t,
    b: t === undefined ? toBase64(message.payload) : undefined,
  });
}

/** A message as the node delivers it: `{"id":"<decimal>","body":"…","retry_count":n}`. */
export interface Delivery {
  readonly id: string;
  readonly body: string;
  readonly retry_count: number;
}

/** `value` (or the JSON text of it) as a delivery, or `protocol` when it is none. */
export function delivery(value: unknown, what: string): Delivery {
  let d = value as Delivery | null;
  if (typeof value === "string")
    try {
      d = JSON.parse(value);
    } catch {}
  if (typeof d?.id !== "string" || typeof d.body !== "string" || typeof d.retry_count !== "number") {
    throw badReply(what, "not a message");
  }
  return d;
}

/** What an envelope holds, or undefined when `body` is not one (another producer's body). */
export function unwrap(
  body: string,
): { payload: Uint8Array; id?: string; headers?: Record<string, string> } | undefined {
  if (body.startsWith(MARK))
    try {
      const { id, h, t, b } = JSON.parse(body);
      if (typeof (t ?? b) === "string") {
        const payload =
          t === undefined ? Uint8Array.from(atob(b), (c) => c.charCodeAt(0)) : encoder.encode(t);
        return { payload, id, headers: h };
      }
    } catch {}
}

/**
 * The inbound message inside a delivery; `gnode-id` (a decimal string) is added to its headers.
 * `nack` per spec §6: with requeue, nothing (the node redelivers after TTR, counting toward the
 * dead-letter queue); without, an ack (the message is dropped).
 */
export function decodeDelivery(topic: string, d: Delivery, ack: () => Promise<void>): InboundMessage {
  const e = unwrap(d.body) ?? { payload: encoder.encode(d.body) };
  return {
    topic,
    payload: e.payload,
    id: e.id ?? d.id,
    headers: { ...e.headers, "gnode-id": d.id },
    deliveryCount: d.retry_count,
    redelivered: d.retry_count > 0,
    ack,
    nack: ({ requeue }) => (requeue ? undefined : ack()),
  };
}
