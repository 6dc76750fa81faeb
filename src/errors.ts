/**
 * The one error class gmq throws. `code` is a closed set shared by every adapter, so an app can
 * branch on it without knowing the transport; backend-specific causes go in `reason`/`details`.
 *
 * One code per situation, whichever adapter reports it:
 * - `disconnected`: not connected, or the connection was lost mid-operation (the only "not
 *   connected" code; a qos 0 publish or an offline call on a request-only transport fails with it).
 * - `aborted`: the caller's signal aborted, whatever was passed to `abort()` (kept as `cause`).
 * - `timeout`: a deadline passed. `no_responder`: nobody serves the call.
 * - `remote`: the remote side failed (a handler there threw, a server error). `handler_error`:
 *   this process's own subscription handler threw.
 * - `protocol`: a malformed or unexpected frame from the backend.
 * - `unauthenticated`: credentials refused. `forbidden`: authenticated but not allowed.
 * - `tls`: the TLS handshake failed (e.g. an untrusted certificate); not transient.
 */
export const ERROR_CODES = [
  "timeout",
  "aborted",
  "disconnected",
  "no_responder",
  "remote",
  "handler_error",
  "protocol",
  "invalid_argument",
  "unsupported",
  "storage",
  "closed",
  "unauthenticated",
  "forbidden",
  "tls",
  "busy",
  "payload_too_large",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Codes that a retry cannot fix: reconnecting stops (and `connect()` rejects) until the app acts,
 * e.g. by calling `connect()` again with new credentials.
 */
const PERMANENT: ReadonlySet<ErrorCode> = new Set([
  "unauthenticated",
  "forbidden",
  "tls",
  "invalid_argument",
  "unsupported",
]);

export interface GmqErrorOptions {
  cause?: unknown;
  /** Backend-specific reason, e.g. mqant `MODULE_NOT_FOUND` or a gRPC status name. */
  reason?: string;
  /** Anything structured the backend sent with the error. */
  details?: unknown;
  /** For `invalid_argument` (and `unsupported`): the name of the offending field. */
  field?: string;
}

/** A brand shared by every copy of the package (two bundles, two versions), unlike `instanceof`. */
const BRAND = Symbol.for("gmq.GmqError");

export class GmqError extends Error {
  override readonly name = "GmqError";
  // Declared only: the constructor sets them.
  declare readonly code: ErrorCode;
  declare readonly reason: string | undefined;
  declare readonly details: unknown;
  declare readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, options: GmqErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.reason = options.reason;
    this.details = options.details;
    this.field = options.field;
  }

  /** `error instanceof GmqError` also holds for a GmqError from another copy of gmq. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return GmqError.is(value);
  }

  /** Whether `value` is a GmqError, from this copy of gmq or any other. */
  static is(value: unknown): value is GmqError {
    return typeof value === "object" && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }

  /** Wrap anything thrown into a GmqError, keeping the original as `cause`. */
  static from(error: unknown, fallback: ErrorCode = "protocol"): GmqError {
    if (GmqError.is(error)) return error;
    if (isAbortError(error)) {
      const reason = (error as { cause?: unknown }).cause;
      if (GmqError.is(reason)) return reason;
      return new GmqError("aborted", "operation aborted", { cause: error });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new GmqError(fallback, message || fallback, { cause: error });
  }

  static invalid(field: string, message: string): GmqError {
    return new GmqError("invalid_argument", `${field}: ${message}`, { field });
  }

  /** What a transport cannot do, e.g. `unsupported("retain", "mqant", "cannot retain messages")`. */
  static unsupported(field: string, transport: string, what: string): GmqError {
    return new GmqError("unsupported", `${field}: the ${transport} transport ${what}`, { field });
  }

  /** Plain-object form for sending an error over the wire (e.g. an RPC reply); JSON leaves out
   *  the `reason` and `details` it does not have. */
  toJSON(): { code: ErrorCode; message: string; reason?: string; details?: unknown } {
    const { code, message, reason, details } = this;
    return { code, message, reason, details };
  }
}

Object.defineProperty(GmqError.prototype, BRAND, { value: true });

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}

/** Whether retrying cannot help (see PERMANENT). */
export function isPermanent(error: GmqError): boolean {
  return PERMANENT.has(error.code);
}

function isAbortError(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    ((error as { name?: unknown }).name === "AbortError" ||
      (error as { name?: unknown }).name === "TimeoutError")
  );
}
