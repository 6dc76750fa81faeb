/**
 * The `reason` of every GmqError this adapter makes, so an app can compare against a constant:
 * the MQTT reason names (MQTT 5 reason codes, and the 3.1.1 CONNACK return codes 1–5), and the
 * adapter's own. `details.reasonCode` holds the number where the broker sent one.
 */
import { CLOSED_BEFORE_CONNACK, REASONS } from "./errors.js";

type BrokerReason = (typeof REASONS)[keyof typeof REASONS];

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
  ...(Object.fromEntries(Object.values(REASONS).map((name) => [name, name])) as {
    readonly [Name in BrokerReason]: Name;
  }),
  ...ADAPTER_REASONS,
};

export type MqttReason = (typeof MQTT_REASONS)[keyof typeof MQTT_REASONS];
