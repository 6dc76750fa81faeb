/** HTTP statuses as gmq codes, and the answers of the two dialects as results or GmqErrors. */
import { type ErrorCode, GmqError } from "gmq";
import { envelopeReason, HTTP_REASONS, httpReason } from "./reasons.js";

/**
 * The gmq code of an HTTP error status; any other status is `remote`. 502 (a proxy that cannot
 * reach the backend) is `disconnected`, so the request-only state machine backs off.
 */
export const HTTP_STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  400: "invalid_argument",
  401: "unauthenticated",
  403: "forbidden",
  404: "no_responder",
  408: "timeout",
  413: "payload_too_large",
  415: "invalid_argument",
  429: "busy",
  502: "disconnected",
  503: "busy",
  504: "timeout",
};

export function httpError(status: number, message: string, details: unknown, reason = httpReason(status)) {
  return new GmqError(HTTP_STATUS_CODES[status] ?? "remote", message, { reason, details });
}

const utf8 = new TextEncoder();
const json = (value: unknown) => utf8.encode(JSON.stringify(value ?? null));
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * gw123 (spec §3): success only for HTTP 200 and `code === 0` (the result is `data`); a 200 with
 * code 401 is `unauthenticated`; any other code is `remote` with the code in `reason` and
 * `details`; a 500 `{msg}` is a server error (echo's own `code=N, message=…` errors by their N).
 */
export async function readEnvelope(response: Response): Promise<Uint8Array> {
  const text = await response.text();
  const body = parse(text);
  if (response.status === 200) {
    if (!isObject(body) || typeof body.code !== "number") {
      throw new GmqError("protocol", `not a {code,msg,data} envelope: ${text.slice(0, 200)}`, {
        reason: HTTP_REASONS.BAD_ENVELOPE,
      });
    }
    const { code, msg } = body;
    if (code === 0) return json(body.data);
    const message = typeof msg === "string" && msg ? msg : `error code ${code}`;
    const details = { code, msg, ...("data" in body && { data: body.data }) };
    const reason = envelopeReason(code);
    throw new GmqError(code === 401 ? "unauthenticated" : "remote", message, { reason, details });
  }
  const msg = isObject(body) && typeof body.msg === "string" ? body.msg : text || response.statusText;
  // echo wraps its own errors (unknown route, wrong method, bad body) into the 500 as text.
  const meant = /^code=(\d{3}), message=/.exec(msg);
  throw httpError(meant ? Number(meant[1]) : response.status, msg, { status: response.status, msg });
}

/**
 * mqant's HTTP gateway (appendix of the mqant spec): a 2xx body is the result as the handler
 * wrote it (text that is not JSON becomes a JSON string for the JSON codec); anything else is
 * the `{id, code, detail, status}` error, its code from the HTTP status, with mqant's own
 * routing and timeout texts told apart.
 */
export async function readMqant(response: Response, codec: string): Promise<Uint8Array> {
  if (response.ok) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    const type = response.headers.get("content-type") ?? "";
    if (codec !== "json" || /\bjson\b/i.test(type)) return bytes;
    return json(new TextDecoder().decode(bytes));
  }
  const text = await response.text();
  const body = parse(text);
  const error = isObject(body) ? body : { detail: text };
  const detail =
    typeof error.detail === "string" && error.detail ? error.detail : text || response.statusText;
  let reason: string | undefined;
  if (/^(none available|nofound .*)$/.test(detail)) reason = HTTP_REASONS.MODULE_NOT_FOUND;
  else if (/^Remote function\(.*\) not found$/.test(detail)) reason = HTTP_REASONS.HANDLER_NOT_FOUND;
  else if (detail === "deadline exceeded") reason = HTTP_REASONS.SERVER_TIMEOUT;
  if (!reason) throw httpError(response.status, detail, error);
  const code: ErrorCode = reason === HTTP_REASONS.SERVER_TIMEOUT ? "timeout" : "no_responder";
  throw new GmqError(code, detail, { reason, details: error });
}
