/**
 * MQTT reason codes and native failures mapped into GmqError. The `code` stays in gmq's closed
 * set; the MQTT reason goes in `reason` (a stable SCREAMING_SNAKE name) and the numeric code in
 * `details.reasonCode`.
 */
import { type ErrorCode, GmqError } from "gmq";
// Default import: mqtt's browser ESM build has no named exports.
import mqttjs from "mqtt";

/**
 * The MQTT reason name of a code (MQTT 5 reason codes, and the 3.1.1 CONNACK return codes 1–5):
 * mqtt.js's own text for it in SCREAMING_SNAKE case (`Server busy` → `SERVER_BUSY`), with MQTT 5's
 * `Bad User Name or Password` spelled as 3.1.1's `BAD_USERNAME_OR_PASSWORD`. `MqttReason` lists
 * them all; a test checks the two agree.
 */
export function reasonName(code: number): string {
  const text = (mqttjs.ReasonCodes as Record<number, string | undefined>)[code];
  return text ? text.toUpperCase().replaceAll(" ", "_").replace("USER_NAME", "USERNAME") : `REASON_${code}`;
}

/** Set on the error when the broker closed the socket before any CONNACK. */
export const CLOSED_BEFORE_CONNACK = "CLOSED_BEFORE_CONNACK";

const words = (name: string) => name.toLowerCase().replaceAll("_", " ");

/** `what: <reason in words> (0x<code>)`, with the reason name and `details.reasonCode`. */
export function reasonError(
  code: ErrorCode,
  what: string,
  reasonCode: number,
  extra: { field?: string; cause?: unknown } = {},
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
  if (typeof code === "number") return reasonError(fallback, message, code, { cause: error });
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
