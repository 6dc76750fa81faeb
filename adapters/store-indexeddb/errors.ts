import { GmqError } from "gmq";

/** IndexedDB cannot be used here at all: absent, blocked (private mode, policy) or broken. */
export function unavailableError(message: string, cause?: unknown): GmqError {
  return new GmqError("storage", message, { reason: "UNAVAILABLE", cause });
}

/**
 * Maps what IndexedDB throws or aborts with into a `storage` GmqError. The reason is
 * `QUOTA_EXCEEDED` for a full origin (named differently by old Firefox), else the DOMException
 * name, e.g. `AbortError`, `DataCloneError`, `UnknownError`.
 */
export function toStorageError(error: unknown, action: string): GmqError {
  if (error instanceof GmqError) return error;
  const name = (error as { name?: unknown } | null | undefined)?.name;
  const message = (error as { message?: unknown } | null | undefined)?.message;
  const quota = name === "QuotaExceededError" || name === "NS_ERROR_DOM_QUOTA_REACHED";
  const reason = quota ? "QUOTA_EXCEEDED" : typeof name === "string" ? name : "UNKNOWN";
  const detail = quota
    ? "storage quota exceeded"
    : typeof message === "string" && message
      ? message
      : String(error);
  return new GmqError("storage", `IndexedDB outbox: ${action} failed: ${detail}`, { reason, cause: error });
}
