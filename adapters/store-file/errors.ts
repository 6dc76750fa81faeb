import { GmqError } from "gmq";

/** A storage failure; `reason` is ours (e.g. `LOCKED`) or else the errno code (e.g. `ENOSPC`). */
export function storageError(message: string, reason?: string, cause?: unknown, details?: unknown): GmqError {
  return new GmqError("storage", message, { reason: reason ?? errnoCode(cause), cause, details });
}

export function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}
