/**
 * How a gmq message maps onto an MQTT PUBLISH. On MQTT 5 the payload stays exactly what the user
 * sent (interop with any MQTT client): the gmq id and headers travel as user properties,
 * replyTo/correlationId as response topic/correlation data, expiresAt as message expiry. On 3.1.1
 * they travel in the opt-in envelope, or not at all.
 */
import { GmqError, type InboundMessage, type OutboundMessage, type QoS } from "gmq";
import type { IClientPublishOptions, IPublishPacket } from "mqtt";
import { decoder, encoder, isEnvelope, setHeader, unwrap, wrap } from "./envelope.js";

/** The user property that carries the gmq message id. */
export const ID_PROPERTY = "gmq-id";

export interface WireMode {
  readonly version: 4 | 5;
  readonly envelope: boolean;
}

/**
 * The bytes to send as the payload: the user's on MQTT 5 and plain 3.1.1, the envelope on 3.1.1
 * with `envelope`. Plain 3.1.1 refuses what it cannot carry rather than drop it.
 */
export function wirePayload(message: OutboundMessage, mode: WireMode): Uint8Array {
  if (mode.version === 5) return message.payload;
  if (mode.envelope) return wrap(message);
  const hasHeaders = message.headers !== undefined && Object.keys(message.headers).length > 0;
  if (hasHeaders || message.replyTo !== undefined || message.correlationId !== undefined) {
    // Dropping them silently would break whoever relies on them (a reply, a trace header).
    throw new GmqError(
      "unsupported",
      "headers: MQTT 3.1.1 cannot carry headers or replies; set `envelope: true`",
      {
        field: "headers",
      },
    );
  }
  return message.payload;
}

/** mqtt.js's publish options for the message (the public path; fast-publish.ts writes the same). */
export function wireOptions(message: OutboundMessage, mode: WireMode): IClientPublishOptions {
  const base: IClientPublishOptions = { qos: message.qos };
  if (message.retain) base.retain = true;
  if (mode.version !== 5) return base;
  const userProperties: Record<string, string> = message.headers ? { ...message.headers } : {};
  userProperties[ID_PROPERTY] = message.id;
  const properties: NonNullable<IClientPublishOptions["properties"]> = { userProperties };
  if (message.replyTo !== undefined) properties.responseTopic = message.replyTo;
  if (message.correlationId !== undefined) {
    // mqtt-packet writes any Uint8Array; its type says Buffer, which browsers lack.
    properties.correlationData = encoder.encode(message.correlationId) as never;
  }
  if (message.expiresAt !== undefined) {
    properties.messageExpiryInterval = Math.max(1, Math.ceil((message.expiresAt - Date.now()) / 1000));
  }
  base.properties = properties;
  return base;
}

/**
 * The message as the core sees it, written into `into` (a held message, which brings its own
 * `ack`/`nack`) or a new object. A malformed envelope is reported and delivered raw.
 */
export function fromWire(
  packet: IPublishPacket,
  mode: WireMode,
  onError: (error: unknown) => void,
  into: object = {},
): InboundMessage {
  // Built field by field, only with what is present: one object per message.
  const inbound = into as Mutable<InboundMessage>;
  inbound.topic = packet.topic;
  inbound.payload = packet.payload as Uint8Array;
  inbound.qos = packet.qos as QoS;
  if (packet.retain) inbound.retain = true;
  if (packet.dup) inbound.redelivered = true;
  if (mode.envelope && isEnvelope(inbound.payload)) {
    try {
      return Object.assign(inbound, unwrap(inbound.payload));
    } catch (error) {
      onError(error);
    }
  }
  const properties = packet.properties;
  if (!properties) return inbound;
  const user = properties.userProperties;
  if (user) {
    let headers: Record<string, string> | undefined;
    for (const key in user) {
      const value = user[key];
      // A key sent several times arrives as an array; headers are single strings.
      const text = Array.isArray(value) ? value.join(", ") : String(value);
      if (key === ID_PROPERTY) inbound.id = text;
      else {
        headers ??= {};
        setHeader(headers, key, text);
      }
    }
    if (headers) inbound.headers = headers;
  }
  if (properties.responseTopic !== undefined) inbound.replyTo = properties.responseTopic;
  const correlation = properties.correlationData as Uint8Array | undefined;
  if (correlation !== undefined) inbound.correlationId = decoder.decode(correlation);
  return inbound;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
