/**
 * Frames of the legacy `/message` WebSocket (spec §4): decoding a client frame the way Go's
 * json.Unmarshal fills webEvent.RequestEvent, and encoding the server's five-key frame.
 */

import { randomBytes } from "node:crypto";
import type { TestClock as Clock } from "../clock.js";
import { goJson, goStruct } from "../mqant/go-json.js";

/** A client frame as the server sees it; absent keys are "". */
export interface RequestEvent {
  readonly MsgId: string;
  readonly EventName: string;
  /** (sic) */
  readonly SourcModuleName: string;
  readonly DstModuleName: string;
  readonly Payload: string;
  readonly Token: string;
}

const FIELDS = ["MsgId", "EventName", "SourcModuleName", "DstModuleName", "Payload", "Token"] as const;

/**
 * json.Unmarshal into the struct: keys match case-insensitively (the last one wins), unknown
 * keys are ignored, `null` values and a top-level `null` leave fields empty, and anything else
 * that is not a string for a known key, or not an object, fails the whole frame (undefined).
 */
export function decodeRequestEvent(text: string): RequestEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const event: Record<string, string> = Object.fromEntries(FIELDS.map((f) => [f, ""]));
  if (value === null) return event as unknown as RequestEvent;
  if (typeof value !== "object" || Array.isArray(value)) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const field = FIELDS.find((f) => f.toLowerCase() === key.toLowerCase());
    if (!field || item === null) continue;
    if (typeof item !== "string") return undefined;
    event[field] = item;
  }
  return event as unknown as RequestEvent;
}

/** webEvent.NewEvent's id: `<hour>:<min>:<sec>:<ns % 1e6>`. */
export function eventMsgId(clock: Clock): string {
  const now = new Date(clock.now());
  const ns = Number(process.hrtime.bigint() % 1_000_000n);
  return `${now.getHours()}:${now.getMinutes()}:${now.getSeconds()}:${ns}`;
}

/** The server's frame: always these five keys in this order, Go-escaped, no Token. */
export function encodeServerEvent(eventName: string, payload: string, msgId: string): string {
  return goJson(
    goStruct({
      MsgId: msgId,
      EventName: eventName,
      SourcModuleName: "",
      DstModuleName: "",
      Payload: payload,
    }),
  );
}

/** `fmt.Sprintf("%d", rand.Uint64())`. */
export function randomUint64(): string {
  return randomBytes(8).readBigUInt64BE().toString(10);
}
