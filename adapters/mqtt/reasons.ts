/**
 * The `reason` of every GmqError this adapter makes, so an app can compare against a constant:
 * the MQTT reason names (MQTT 5 reason codes, and the 3.1.1 CONNACK return codes 1–5), and the
 * adapter's own. `details.reasonCode` holds the number where the broker sent one.
 */
// Default import: mqtt's browser ESM build has no named exports.
import mqttjs from "mqtt";
import { CLOSED_BEFORE_CONNACK, reasonName } from "./errors.js";

/** The broker's reasons, as `reasonName` spells mqtt.js's texts for the codes 1–5, 16, 17 and
 *  128–162. */
type BrokerReason =
  | "UNACCEPTABLE_PROTOCOL_VERSION"
  | "IDENTIFIER_REJECTED"
  | "SERVER_UNAVAILABLE"
  | "BAD_USERNAME_OR_PASSWORD"
  | "NOT_AUTHORIZED"
  | "NO_MATCHING_SUBSCRIBERS"
  | "NO_SUBSCRIPTION_EXISTED"
  | "UNSPECIFIED_ERROR"
  | "MALFORMED_PACKET"
  | "PROTOCOL_ERROR"
  | "IMPLEMENTATION_SPECIFIC_ERROR"
  | "UNSUPPORTED_PROTOCOL_VERSION"
  | "CLIENT_IDENTIFIER_NOT_VALID"
  | "SERVER_BUSY"
  | "BANNED"
  | "SERVER_SHUTTING_DOWN"
  | "BAD_AUTHENTICATION_METHOD"
  | "KEEP_ALIVE_TIMEOUT"
  | "SESSION_TAKEN_OVER"
  | "TOPIC_FILTER_INVALID"
  | "TOPIC_NAME_INVALID"
  | "PACKET_IDENTIFIER_IN_USE"
  | "PACKET_IDENTIFIER_NOT_FOUND"
  | "RECEIVE_MAXIMUM_EXCEEDED"
  | "TOPIC_ALIAS_INVALID"
  | "PACKET_TOO_LARGE"
  | "MESSAGE_RATE_TOO_HIGH"
  | "QUOTA_EXCEEDED"
  | "ADMINISTRATIVE_ACTION"
  | "PAYLOAD_FORMAT_INVALID"
  | "RETAIN_NOT_SUPPORTED"
  | "QOS_NOT_SUPPORTED"
  | "USE_ANOTHER_SERVER"
  | "SERVER_MOVED"
  | "SHARED_SUBSCRIPTIONS_NOT_SUPPORTED"
  | "CONNECTION_RATE_EXCEEDED"
  | "MAXIMUM_CONNECT_TIME"
  | "SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED"
  | "WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED";

const ADAPTER_REASONS = {
  /** The broker closed the socket before any CONNACK (often: it does not speak MQTT 5). */
  CLOSED_BEFORE_CONNACK,
  /** No CONNACK in time. */
  CONNACK_TIMEOUT: "CONNACK_TIMEOUT",
  /** The broker stopped answering pings. */
  KEEPALIVE_TIMEOUT: "KEEPALIVE_TIMEOUT",
  /** The app's `credentials()` threw. */
  CREDENTIALS_FAILED: "CREDENTIALS_FAILED",
  /** A 3.1.1 envelope that does not decode. */
  MALFORMED_ENVELOPE: "MALFORMED_ENVELOPE",
} as const;

export const MQTT_REASONS = {
  // Every code mqtt.js names but 0 (success).
  ...(Object.fromEntries(
    Object.keys(mqttjs.ReasonCodes)
      .filter(Number)
      .map((code) => [reasonName(Number(code)), reasonName(Number(code))]),
  ) as { readonly [Name in BrokerReason]: Name }),
  ...ADAPTER_REASONS,
};

export type MqttReason = (typeof MQTT_REASONS)[keyof typeof MQTT_REASONS];
