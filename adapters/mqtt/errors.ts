/**
 * MQTT reason codes and native failures mapped into GmqError. The `code` stays in gmq's closed
 * set; the MQTT reason goes in `reason` (a stable SCREAMING_SNAKE name) and the numeric code in
 * `details.reasonCode`.
 */
import { type ErrorCode, GmqError } from "gmq";

/** MQTT 5 reason names (also used for the 3.1.1 CONNACK return codes 1–5). */
export const REASONS = {
  1: "UNACCEPTABLE_PROTOCOL_VERSION",
  2: "IDENTIFIER_REJECTED",
  3: "SERVER_UNAVAILABLE",
  4: "BAD_USERNAME_OR_PASSWORD",
  5: "NOT_AUTHORIZED",
  16: "NO_MATCHING_SUBSCRIBERS",
  17: "NO_SUBSCRIPTION_EXISTED",
  128: "UNSPECIFIED_ERROR",
  129: "MALFORMED_PACKET",
  130: "PROTOCOL_ERROR",
  131: "IMPLEMENTATION_SPECIFIC_ERROR",
  132: "UNSUPPORTED_PROTOCOL_VERSION",
  133: "CLIENT_IDENTIFIER_NOT_VALID",
  134: "BAD_USERNAME_OR_PASSWORD",
  135: "NOT_AUTHORIZED",
  136: "SERVER_UNAVAILABLE",
  137: "SERVER_BUSY",
  138: "BANNED",
  139: "SERVER_SHUTTING_DOWN",
  140: "BAD_AUTHENTICATION_METHOD",
  141: "KEEP_ALIVE_TIMEOUT",
  142: "SESSION_TAKEN_OVER",
  143: "TOPIC_FILTER_INVALID",
  144: "TOPIC_NAME_INVALID",
  145: "PACKET_IDENTIFIER_IN_USE",
  146: "PACKET_IDENTIFIER_NOT_FOUND",
  147: "RECEIVE_MAXIMUM_EXCEEDED",
  148: "TOPIC_ALIAS_INVALID",
  149: "PACKET_TOO_LARGE",
  150: "MESSAGE_RATE_TOO_HIGH",
  151: "QUOTA_EXCEEDED",
  152: "ADMINISTRATIVE_ACTION",
  153: "PAYLOAD_FORMAT_INVALID",
  154: "RETAIN_NOT_SUPPORTED",
  155: "QOS_NOT_SUPPORTED",
  156: "USE_ANOTHER_SERVER",
  157: "SERVER_MOVED",
  158: "SHARED_SUBSCRIPTIONS_NOT_SUPPORTED",
  159: "CONNECTION_RATE_EXCEEDED",
  160: "MAXIMUM_CONNECT_TIME",
  161: "SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED",
  162: "WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED",
} as const;

/** Set on the error when the broker closed the socket before any CONNACK. */
export const CLOSED_BEFORE_CONNACK = "CLOSED_BEFORE_CONNACK";

export function reasonName(code: number): string {
  return (REASONS as Record<number, string>)[code] ?? `REASON_${code}`;
}

const words = (name: string) => name.toLowerCase().replaceAll("_", " ");

function reasonError(
  code: ErrorCode,
  what: string,
  reasonCode: number,
  extra: { field?: string } = {},
): GmqError {
  const reason = reasonName(reasonCode);
  return new GmqError(code, `${what}: ${words(reason)} (0x${reasonCode.toString(16).padStart(2, "0")})`, {
    reason,
    details: { reasonCode },
    ...extra,
  });
}

/** A refused CONNACK (3.1.1 return code or MQTT 5 reason code). */
export function connackError(reasonCode: number): GmqError {
  switch (reasonCode) {
    case 0x04:
    case 0x05:
    case 0x86:
    case 0x87:
    case 0x8a:
    case 0x8c:
      return reasonError("unauthenticated", "the broker refused the connection", reasonCode);
    case 0x01:
    case 0x84:
      return reasonError("protocol", "the broker refused the protocol version", reasonCode);
    case 0x02:
    case 0x85:
      return reasonError("invalid_argument", "the broker refused the client id", reasonCode, {
        field: "clientId",
      });
    case 0x89:
    case 0x97:
    case 0x9f:
      return reasonError("busy", "the broker refused the connection", reasonCode);
    default:
      return reasonError("disconnected", "the broker refused the connection", reasonCode);
  }
}

/** Whether a failed attempt means "this broker does not speak the version I offered". */
export function isVersionRefusal(error: unknown): boolean {
  if (!(error instanceof GmqError)) return false;
  const reasonCode = (error.details as { reasonCode?: unknown } | undefined)?.reasonCode;
  return reasonCode === 0x01 || reasonCode === 0x84 || error.reason === CLOSED_BEFORE_CONNACK;
}

/** A PUBACK/PUBREC with a failure reason code. */
export function publishError(reasonCode: number, topic: string, isRequest: boolean): GmqError {
  if (reasonCode === 0x10 && isRequest) {
    return new GmqError("no_responder", `no subscriber for ${topic}`, {
      reason: reasonName(reasonCode),
      details: { reasonCode },
    });
  }
  return reasonError("remote", `the broker refused the message on ${topic}`, reasonCode);
}

/** A SUBACK failure code for one filter. */
export function subackError(reasonCode: number, filter: string): GmqError {
  const what = `the broker refused the subscription to ${filter}`;
  switch (reasonCode) {
    case 0x87:
      return reasonError("forbidden", what, reasonCode);
    case 0x8f:
      return reasonError("invalid_argument", what, reasonCode, { field: "pattern" });
    case 0x9e:
    case 0xa1:
    case 0xa2:
      return reasonError("unsupported", what, reasonCode);
    case 0x97:
      return reasonError("busy", what, reasonCode);
    default:
      // 3.1.1 knows only 0x80 "Failure".
      return reasonError("remote", what, reasonCode);
  }
}

/** Whether mqtt.js/Node reported a socket-level failure (as opposed to a protocol violation). */
export function isSocketError(error: unknown): boolean {
  return typeof (error as { code?: unknown } | null)?.code === "string";
}

/** A native error (socket, mqtt.js, parser) as a GmqError. */
export function nativeError(error: unknown, fallback: ErrorCode): GmqError {
  if (error instanceof GmqError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === "string") {
    return new GmqError("disconnected", message || code, { cause: error, reason: code });
  }
  if (typeof code === "number") {
    const mapped = reasonError(fallback, message, code);
    return new GmqError(mapped.code, mapped.message, {
      cause: error,
      reason: mapped.reason,
      details: mapped.details,
    });
  }
  if (message === "Keepalive timeout") {
    return new GmqError("disconnected", "the broker stopped answering pings", {
      cause: error,
      reason: "KEEPALIVE_TIMEOUT",
    });
  }
  if (message === "connack timeout") {
    return new GmqError("disconnected", "no CONNACK from the broker in time", {
      cause: error,
      reason: "CONNACK_TIMEOUT",
    });
  }
  return new GmqError(fallback, message || fallback, { cause: error });
}

/**
 * A failed TLS handshake as GmqError `tls` (reason: Node's code), or undefined for anything else.
 * These do not heal by retrying, so the message says what to change. Node names certificate
 * failures after OpenSSL's (UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED…), unlike socket
 * errors (E…) and ws's (WS_…), except ERROR_IN_CERT_…; its own are ERR_TLS_CERT_… and ERR_SSL_….
 * Only for mqtts:// and wss://. A handshake that merely timed out is not one of them: that is left
 * to the caller as a network failure.
 */
export function tlsError(error: unknown, url: string): GmqError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  let reason: string;
  if (!/^(mqtts|wss):/.test(url)) return undefined;
  if (typeof code === "string" && /^(?!E|WS_)[A-Z_]+$|^ERROR_IN_|^ERR_TLS_CERT|^ERR_SSL_/.test(code)) {
    reason = code;
  } else if (message === "TLS not authorized") reason = "TLS_NOT_AUTHORIZED";
  else return undefined;
  const advice = /SELF_SIGNED|ISSUER|LEAF|UNTRUSTED|INVALID_CA/.test(reason)
    ? "its certificate is not signed by a CA this client trusts: pass the broker's CA certificate as the `ca` option"
    : /ALTNAME|HOSTNAME/.test(reason)
      ? "its certificate is not issued for this host name: connect by a name the certificate lists, or reissue it"
      : /EXPIRED|NOT_YET/.test(reason)
        ? "its certificate is out of date: renew it (or check this machine's clock)"
        : "check the `ca`, `cert` and `key` options and the broker's TLS setup";
  return new GmqError("tls", `TLS with the broker at ${url} failed (${reason}: ${message}); ${advice}`, {
    reason,
    cause: error,
  });
}
