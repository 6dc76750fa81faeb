/**
 * `gmq/mqtt` as a browser bundle resolves it (the `browser` export condition): the same transport
 * without what only Node uses (see PlatformParts: the one-buffer PUBLISH writer for Node streams,
 * the mapping of Node's TLS error codes, which browsers never show, the corking of writes, binary
 * passwords as Buffers, TLS options). mqtt.js's browser build has no TCP: mqtt:// and mqtts://
 * URLs are refused with `unsupported`.
 */
import type { Transport } from "gmq";
import type { MqttOptions } from "./options.js";
import { createMqtt } from "./transport.js";

export type { MqttCredentials, MqttOptions, MqttProtocolVersion } from "./options.js";
export { MQTT_REASONS, type MqttReason } from "./reasons.js";

/** An MQTT 3.1.1/5 transport over WebSocket or secure WebSocket. */
export function mqtt(options: MqttOptions): Transport {
  return createMqtt(options, {});
}
