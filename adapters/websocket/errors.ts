/** Close codes and `error` frames as GmqErrors (protocol §12 and §13). */
import { GmqError, isErrorCode } from "gmq";
import { CloseCode, type WireError } from "./protocol.js";
import type { WebSocketReason } from "./reasons.js";

/** The name of each close code the hub uses (protocol §13), and of 1006: `CloseCode`'s keys in
 *  snake case, but 1009's standard name. */
export const CLOSE_NAMES: Record<number, WebSocketReason> = { 1006: "abnormal", 1009: "message_too_big" };
for (const [key, code] of Object.entries(CloseCode)) {
  CLOSE_NAMES[code] ??= key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`) as WebSocketReason;
}

/** The hub's name for a close code (`unknown_close` for one we do not know). */
export function closeReason(code: number): WebSocketReason {
  return CLOSE_NAMES[code] ?? "unknown_close";
}

/**
 * A close as the error the core acts on. The ranges carry the action (`closeAction`): a "stop"
 * code from the hub (1003, 4000–4099) becomes a permanent error (`unauthenticated`, `forbidden`,
 * else `unsupported`: a client the hub will not talk to), so the core stops reconnecting; every
 * other code, and any close of our own, is `disconnected`, retried. `details` has the code and
 * the hub's reason text.
 */
export function closeError(code: number, text: string, closedByUs: boolean): GmqError {
  const reason = closeReason(code);
  const stop = !closedByUs && (code === 1003 || (code >= 4000 && code < 4100));
  return new GmqError(
    !stop ? "disconnected" : code === 4001 ? "unauthenticated" : code === 4003 ? "forbidden" : "unsupported",
    `the hub closed the connection: ${code} ${reason}${text && `, ${text}`}`,
    { reason, details: { closeCode: code, closeReason: text } },
  );
}

/** An `error` frame as a GmqError: its code one to one (an unknown one is `remote`), with
 *  reason, details and field; `what` when it has no message. */
export function wireError(
  { code, message, reason, details, field }: Partial<WireError>,
  what: string,
): GmqError {
  return new GmqError(isErrorCode(code) ? code : "remote", message || what, { reason, details, field });
}
