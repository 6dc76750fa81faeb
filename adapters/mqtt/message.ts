/**
 * How a gmq message maps onto an MQTT PUBLISH. On MQTT 5 the payload stays exactly what the user
 * sent (interop with any MQTT client): the gmq id and headers travel as user properties,
 * replyTo/correlationId as response topic/correlation data, expiresAt as message expiry. On 3.1.1
 * they travel in the opt-in envelope, or not at all.
 */
import { GmqError, type InboundMessage, type OutboundMessage, type QoS } from "gmq";
import type { IClientPublishOptions, IPublishPacket } from "mqtt";
import { isEnvelope, unwrap, wrap } from "./envelope.js";

/** The user property that carries the gmq message id. */
export const ID_PROPERTY = "gmq-id";

export interface WireMode {
  readonly version: 4 | 5;
  readonly envelope: boolean;
}

export interface WirePublish {
  readonly payload: Uint8Array;
  readonly options: IClientPublishOptions;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function toWire(message: OutboundMessage, mode: WireMode): WirePublish {
  const base: IClientPublishOptions = { qos: message.qos, ...(message.retain && { retain: true }) };
  if (mode.version === 5) {
    const properties: NonNullable<IClientPublishOptions["properties"]> = {
      userProperties: { ...message.headers, [ID_PROPERTY]: message.id },
    };
    if (message.replyTo !== undefined) properties.responseTopic = message.replyTo;
    if (message.correlationId !== undefined) {
      // mqtt-packet writes any Uint8Array; its type says Buffer, which browsers lack.
      properties.correlationData = encoder.encode(message.correlationId) as never;
    }
    if (message.expiresAt !== undefined) {
      properties.messageExpiryInterval = Math.max(1, Math.ceil((message.expiresAt - Date.now()) / 1000));
    }
    return { payload: message.payload, options: { ...base, properties } };
  }
  if (mode.envelope) return { payload: wrap(message), options: base };
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
  return { payload: message.payload, options: base };
}

type Inbound = Omit<InboundMessage, "ack" | "nack">;

/** The message as the core sees it. A malformed envelope is reported and delivered raw. */
export function fromWire(packet: IPublishPacket, mode: WireMode, onError: (error: unknown) => void): Inbound {
  const payload = packet.payload as Uint8Array;
  const common = {
    topic: packet.topic,
    qos: packet.qos as QoS,
    ...(packet.retain && { retain: true }),
    ...(packet.dup && { redelivered: true }),
  };
  if (mode.envelope && isEnvelope(payload)) {
    try {
      return { ...common, ...unwrap(payload) };
    } catch (error) {
      onError(error);
    }
  }
  const properties = packet.properties;
  if (!properties) return { ...common, payload };
  let id: string | undefined;
  let headers: Record<string, string> | undefined;
  const user = properties.userProperties;
  if (user) {
    for (const [key, value] of Object.entries(user)) {
      // A key sent several times arrives as an array; headers are single strings.
      const text = Array.isArray(value) ? value.join(", ") : String(value);
      if (key === ID_PROPERTY) {
        id = text;
      } else {
        headers ??= {};
        headers[key] = text;
      }
    }
  }
  const correlation = properties.correlationData as Uint8Array | undefined;
  return {
    ...common,
    payload,
    ...(id !== undefined && { id }),
    ...(headers && { headers }),
    ...(properties.responseTopic !== undefined && { replyTo: properties.responseTopic }),
    ...(correlation !== undefined && { correlationId: decoder.decode(correlation) }),
  };
}
