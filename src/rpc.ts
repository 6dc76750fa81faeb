import { encoder } from "./codec.js";
import { GmqError } from "./errors.js";

/** Header that marks an RPC reply as an error; the payload is then the error as JSON. */
export const ERROR_HEADER = "gmq-error";
export const INBOX_PREFIX = "_gmq/inbox";

const decoder = new TextDecoder();

export function requestTopic(prefix: string, service: string, method: string): string {
  return `${prefix}/${service}/${method}`;
}

/** The payload of an error reply. */
export function encodeRemoteError(error: unknown): Uint8Array {
  const failure = GmqError.from(error, "remote");
  // Keep the responder's own code as the reason so the caller can still tell kinds apart.
  const body = {
    message: failure.message,
    reason: failure.reason ?? (failure.code === "remote" ? undefined : failure.code),
    details: failure.details,
  };
  return encoder.encode(JSON.stringify(body));
}

export function decodeRemoteError(payload: Uint8Array): GmqError {
  try {
    const body = JSON.parse(decoder.decode(payload)) as {
      message?: unknown;
      reason?: unknown;
      details?: unknown;
    };
    const reason = typeof body.reason === "string" ? body.reason : undefined;
    return new GmqError("remote", typeof body.message === "string" ? body.message : "remote error", {
      ...(reason !== undefined && { reason }),
      details: body.details,
    });
  } catch (error) {
    return new GmqError("protocol", "malformed error reply", { cause: error });
  }
}
