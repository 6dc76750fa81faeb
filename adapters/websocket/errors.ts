/** Close codes and `error` frames as GmqErrors (protocol §12 and §13). */
import { type ErrorCode, GmqError, isErrorCode } from "gmq";
import { CloseCode, closeAction, type WireError } from "./protocol.js";
import { WEBSOCKET_REASONS, type WebSocketReason } from "./reasons.js";

const CLOSE_NAMES: Readonly<Record<number, WebSocketReason>> = {
  [CloseCode.normal]: WEBSOCKET_REASONS.normal,
  [CloseCode.unsupportedData]: WEBSOCKET_REASONS.unsupported_data,
  [CloseCode.frameTooBig]: WEBSOCKET_REASONS.message_too_big,
  1006: WEBSOCKET_REASONS.abnormal,
  [CloseCode.protocolError]: WEBSOCKET_REASONS.protocol_error,
  [CloseCode.unauthenticated]: WEBSOCKET_REASONS.unauthenticated,
  [CloseCode.unsupportedProtocol]: WEBSOCKET_REASONS.unsupported_protocol,
  [CloseCode.forbidden]: WEBSOCKET_REASONS.forbidden,
  [CloseCode.shutdown]: WEBSOCKET_REASONS.shutdown,
  [CloseCode.tokenExpired]: WEBSOCKET_REASONS.token_expired,
  [CloseCode.heartbeatTimeout]: WEBSOCKET_REASONS.heartbeat_timeout,
  [CloseCode.slowConsumer]: WEBSOCKET_REASONS.slow_consumer,
  [CloseCode.rateLimited]: WEBSOCKET_REASONS.rate_limited,
  [CloseCode.connectTimeout]: WEBSOCKET_REASONS.connect_timeout,
  [CloseCode.internalError]: WEBSOCKET_REASONS.internal_error,
};

/** The hub's name for a close code (`unknown_close` for one we do not know). */
export function closeReason(code: number): WebSocketReason {
  return CLOSE_NAMES[code] ?? WEBSOCKET_REASONS.unknown_close;
}

/**
 * A close as the error the core acts on. The ranges carry the action: "stop" codes become
 * permanent errors (`unauthenticated`, `forbidden`, else `unsupported`: a client the hub will
 * not talk to), so the core stops reconnecting; every other code is `disconnected`, retried.
 * `details` has the code and the hub's reason text.
 */
export function closeError(code: number, text: string, closedByUs: boolean): GmqError {
  const reason = closeReason(code);
  const details = { closeCode: code, closeReason: text };
  const said = text ? `: ${text}` : "";
  const message = `the hub closed the connection with ${code} (${reason})${said}`;
  if (!closedByUs && code !== CloseCode.normal && closeAction(code) === "stop") {
    const failure: ErrorCode =
      code === CloseCode.unauthenticated
        ? "unauthenticated"
        : code === CloseCode.forbidden
          ? "forbidden"
          : "unsupported";
    return new GmqError(failure, message, { reason, details });
  }
  return new GmqError("disconnected", message, { reason, details });
}

/** An `error` frame as a GmqError: its code one to one, with reason, details and field. */
export function wireError(error: Partial<WireError>, what: string): GmqError {
  const code: ErrorCode = isErrorCode(error.code) ? error.code : "remote";
  const message = typeof error.message === "string" && error.message !== "" ? error.message : what;
  return new GmqError(code, message, {
    ...(typeof error.reason === "string" && { reason: error.reason }),
    ...(error.details !== undefined && { details: error.details }),
    ...(typeof error.field === "string" && { field: error.field }),
  });
}
