/**
 * `gmq/mqtt`: MQTT 3.1.1 and 5 over TCP, TLS, WebSocket and secure WebSocket, on mqtt.js.
 *
 *   createClient({ transport: mqtt({ url: "wss://broker.example/mqtt" }) })
 *
 * - MQTT 5 keeps payloads exactly as sent (ids and headers are user properties, replies use
 *   response topic + correlation data), so gmq interoperates with any MQTT client.
 * - MQTT 3.1.1 has nowhere to put them: use `envelope: true` between gmq peers, or
 *   `protocolVersion: 4` for plain pub/sub without headers and calls. With the default "auto",
 *   a 3.1.1-only broker without `envelope` is refused with `unsupported` rather than silently
 *   losing ids, headers and replies.
 * - Manual ack holds the PUBACK (QoS 1) or PUBCOMP (QoS 2) until `ack()`; an unacked message is
 *   redelivered by the broker on the next session when `clean: false`. MQTT has no nack:
 *   `nack({ requeue: true })` keeps it unacked and hands it to the app again after
 *   `redeliveryDelayMs`; `nack({ requeue: false })` acks (drops) it.
 * - Shared subscriptions (`$share/<queue>/…`) serve queue groups; turn `sharedSubscriptions` off
 *   for brokers without them (aedes, NATS).
 */

export type { MqttCredentials, MqttOptions, MqttProtocolVersion } from "./options.js";
export { MQTT_REASONS, type MqttReason } from "./reasons.js";

import type { Transport } from "gmq";
import { tuneStream } from "./cork.js";
import { bufferPassword } from "./credentials.js";
import { tlsError } from "./errors.js";
import { fastPublisher } from "./fast-publish.js";
import { hasTcp, type MqttOptions, tlsOptions } from "./options.js";
import { createMqtt } from "./transport.js";

/** An MQTT 3.1.1/5 transport over TCP, TLS, WebSocket or secure WebSocket. */
export function mqtt(options: MqttOptions): Transport {
  return createMqtt(options, { fastPublisher, tlsError, tuneStream, bufferPassword, tlsOptions, hasTcp });
}
