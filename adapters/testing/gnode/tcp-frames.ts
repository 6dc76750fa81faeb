/**
 * Server-to-client framing (spec §3): `[u16 BE type][u32 BE length][payload]`, and the error
 * frames' text `E_INVALID_<CODE> - <text>` with their fatal or non-fatal class.
 */

import { Buffer } from "node:buffer";

export const FRAME_MESSAGE = 101;
export const FRAME_ERROR = 102;
export const FRAME_RESULT = 103;
export const FRAME_CHANNEL = 104;
export const FRAME_PING = 105;

/** Length prefixes above this are refused unread (upstream would try to allocate them). */
export const MAX_ITEM_BYTES = 64 * 1024 * 1024;

export function encodeFrame(type: number, payload: Uint8Array | string): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
  const out = Buffer.allocUnsafe(6 + body.length);
  out.writeUInt16BE(type, 0);
  out.writeUInt32BE(body.length, 2);
  out.set(body, 6);
  return out;
}

export type ErrorCode =
  | "PARAMS"
  | "DELAY"
  | "READ"
  | "POP"
  | "ACK"
  | "JSON"
  | "PUSHNUM"
  | "PUSH"
  | "DEAD"
  | "SET"
  | "DECLARE"
  | "SUBSCRIBE"
  | "CMD"
  | "TOPIC"
  | "BINDKEY"
  | "CHANNEL"
  | "PUBLISH"
  | "RESPONSE";

/** A command's failure: a 102 frame, after which a fatal one closes the socket. */
export class CommandError {
  constructor(
    readonly code: ErrorCode,
    readonly text: string,
    readonly fatal: boolean,
  ) {}

  get payload(): string {
    return `E_INVALID_${this.code} - ${this.text}`;
  }
}

export const fatal = (code: ErrorCode, text: string) => new CommandError(code, text, true);
export const nonFatal = (code: ErrorCode, text: string) => new CommandError(code, text, false);
