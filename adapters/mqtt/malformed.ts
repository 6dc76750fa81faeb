/**
 * Inbound PUBLISH checks beyond what mqtt.js (mqtt-packet) does: it decodes a topic leniently and
 * accepts any packet id. A malformed packet is a protocol error; MQTT then closes the connection.
 */
import { GmqError } from "gmq";
import type { IPublishPacket } from "mqtt";

/**
 * What makes an inbound PUBLISH malformed beyond what mqtt.js checks: a topic that is not UTF-8
 * (`badUtf8`, from the raw bytes), holds NUL or a wildcard, or is empty without a topic alias
 * [MQTT-1.5.4, 3.3.2-2]; a QoS 1/2 packet id of 0 [MQTT-2.3.1-1].
 */
export function malformedPublish(packet: IPublishPacket, badUtf8: boolean): GmqError | undefined {
  const { topic, qos, messageId } = packet;
  let problem: string | undefined;
  if (badUtf8) problem = "its topic is not valid UTF-8";
  else if (topic.includes("\u0000")) problem = "its topic holds a NUL character";
  else if (topic.includes("+") || topic.includes("#")) problem = "its topic holds a wildcard (+ or #)";
  else if (topic === "" && packet.properties?.topicAlias === undefined) problem = "its topic is empty";
  else if (qos > 0 && messageId === 0) problem = `it is QoS ${qos} with packet id 0`;
  if (!problem) return undefined;
  return new GmqError("protocol", `the broker sent a malformed PUBLISH: ${problem}`, {
    reason: "MALFORMED_PACKET",
    details: { topic, qos, messageId },
  });
}
