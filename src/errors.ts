/**
 * The one error class gmq throws. `code` is a closed set shared by every adapter, so an app can
 * branch on it without knowing the transport; backend-specific causes go in `reason`/`details`.
 */
export const ERROR_CODES = [
  "timeout",
  "aborted",
  "offline",
  "no_responder",
  "remote",
  "protocol",
  "invalid_argument",
  "unsupported",
  "storage",
  "closed",
  "unauthenticated",
  "busy",
  "disconnected",
  "payload_too_large",
  "tls",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface GmqErrorOptions {
  cause?: unknown;
  /** Backend-specific reason, e.g. mqant `MODULE_NOT_FOUND` or a gRPC status name. */
  reason?: string;
  /** Anything structured the backend sent with the error. */
  details?: unknown;
  /** For `invalid_argument`: the name of the offending field. */
  field?: string;
}

export class GmqError extends Error {
  override readonly name = "GmqError";
  readonly code: ErrorCode;
  readonly reason: string | undefined;
  readonly details: unknown;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, options: GmqErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.reason = options.reason;
    this.details = options.details;
    this.field = options.field;
  }

  /** Wrap anything thrown into a GmqError, keeping the original as `cause`. */
  static from(error: unknown, fallback: ErrorCode = "protocol"): GmqError {
    if (error instanceof GmqError) return error;
    if (isAbortError(error)) {
      const reason = (error as { cause?: unknown }).cause;
      if (reason instanceof GmqError) return reason;
      return new GmqError("aborted", "operation aborted", { cause: error });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new GmqError(fallback, message || fallback, { cause: error });
  }

  static invalid(field: string, message: string): GmqError {
    return new GmqError("invalid_argument", `${field}: ${message}`, { field });
  }

  /** Plain-object form for sending an error over the wire (e.g. an RPC reply). */
  toJSON(): { code: ErrorCode; message: string; reason?: string; details?: unknown } {
    const out: { code: ErrorCode; message: string; reason?: string; details?: unknown } = {
      code: this.code,
      message: this.message,
    };
    if (this.reason !== undefined) out.reason = this.reason;
    if (this.details !== undefined) out.details = this.details;
    return out;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}

function isAbortError(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    ((error as { name?: unknown }).name === "AbortError" ||
      (error as { name?: unknown }).name === "TimeoutError")
  );
}
