/**
 * PUBLISH packets written as one buffer, on the mqtt.js versions this is proven on.
 *
 * mqtt.js's public `publish` writes each packet through mqtt-packet's generic writer, which makes
 * about fifteen small stream writes and as many fresh buffers for an MQTT 5 PUBLISH with user
 * properties, and deep-copies every QoS ≥ 1 packet (payload included) into its outgoing store.
 * For a message that is about a quarter of mqtt.js's CPU. Here the packet is built in one buffer,
 * byte for byte what mqtt-packet would write, while mqtt.js keeps its own bookkeeping: the packet
 * id comes from its id provider, the callback waits in `client.outgoing` and a stub in its
 * outgoing store, so its PUBACK/PUBREC/PUBCOMP handling, reason codes included, works unchanged.
 *
 * That leans on mqtt.js internals (`outgoing`, `outgoingStore`, `_nextId`, `_storeProcessing`),
 * so it runs only on the versions in PROVEN (the test suite runs both paths on them) and only in
 * Node (a Buffer to write into); anywhere else `fastPublisher` returns undefined and the
 * connection uses the public `publish`.
 */
import type { OutboundMessage } from "gmq";
import type { MqttClient } from "mqtt";
import { ID_PROPERTY } from "./message.js";

/** mqtt.js versions whose internals this file is tested against. */
export const PROVEN: ReadonlySet<string> = new Set(["5.16.0"]);

let enabled = true;

/** Turns the fast path off (or on again) for connections opened from now on: the tests run
 *  both paths. */
export function useFastPublish(on: boolean): void {
  enabled = on;
}

interface NodeBuffer extends Uint8Array {
  write(text: string, offset: number): number;
}
interface BufferClass {
  allocUnsafe(size: number): NodeBuffer;
  byteLength(text: string): number;
}
const Buffer = (globalThis as { Buffer?: BufferClass }).Buffer;

/** What mqtt.js keeps of a packet it waits to be acknowledged, as far as this file touches it. */
interface Internals {
  outgoing: Record<number, { volatile: boolean; cmd: string; cb: (error?: Error) => void }>;
  outgoingStore: { put(packet: object, cb: () => void): unknown };
  _nextId(): number | null;
  _storeProcessing: boolean;
  _storeProcessingQueue: unknown[];
  disconnecting: boolean;
  connected: boolean;
}

/** Sends one message (QoS ≥ 1 with the callback its acknowledgement settles); false when it
 *  cannot, and the caller then uses `client.publish`. */
export type FastPublish = (
  message: OutboundMessage,
  payload: Uint8Array,
  version: 4 | 5,
  callback?: (error?: Error) => void,
) => boolean;

/** The fast path for this client, or undefined where it is not proven. `write` sends a QoS ≥ 1
 *  packet (the connection corks those until the next tick). */
export function fastPublisher(
  client: MqttClient,
  version: string | undefined,
  write: (packet: Uint8Array) => void,
): FastPublish | undefined {
  if (!enabled || !Buffer || version === undefined || !PROVEN.has(version)) return undefined;
  const inner = client as unknown as Internals;
  return (message, payload, protocol, callback) => {
    // mqtt.js is replaying its store (never with a fresh client per connection) or closing.
    if (inner._storeProcessing || inner._storeProcessingQueue.length > 0 || inner.disconnecting) return false;
    if (!inner.connected) return false;
    if (message.qos === 0) {
      const packet = encodePublish(message, payload, protocol, 0);
      if (!packet) return false;
      // Straight to the socket, not corked: a QoS 0 publish resolves once written unless the
      // stream asks to wait for drain, which a burst held back by a cork always would.
      client.stream.write(packet as never);
      return true;
    }
    const messageId = inner._nextId();
    if (messageId === null) return false;
    const packet = encodePublish(message, payload, protocol, messageId);
    if (!packet) return false;
    inner.outgoing[messageId] = { volatile: false, cmd: "publish", cb: callback! };
    // handleAck deletes the stored packet; a stub is all it reads (a fresh client never replays).
    inner.outgoingStore.put({ cmd: "publish", messageId, qos: message.qos }, noop);
    write(packet);
    return true;
  };
}

const noop = (): void => {};

/** Bytes a variable byte integer takes. */
const varIntLength = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4);

/**
 * The PUBLISH packet, or undefined when a field is out of MQTT's range (the public path then
 * reports it as mqtt.js does). MQTT 5 properties in the order mqtt-packet writes them for
 * `toWire`'s options: user properties (headers, then the gmq id), response topic, correlation
 * data, message expiry interval.
 */
export function encodePublish(
  message: OutboundMessage,
  payload: Uint8Array,
  version: 4 | 5,
  messageId: number,
): Uint8Array | undefined {
  const B = Buffer!;
  const { topic, headers, replyTo, correlationId, expiresAt } = message;
  const topicLength = B.byteLength(topic);
  let propertiesLength = 0;
  let expiry = 0;
  if (version === 5) {
    let hasId = false;
    if (headers) {
      for (const name in headers) {
        if (name === ID_PROPERTY) hasId = true;
        const value = name === ID_PROPERTY ? message.id : headers[name]!;
        const pair = pairLength(B, name, value);
        if (pair < 0) return undefined;
        propertiesLength += pair;
      }
    }
    if (!hasId) propertiesLength += pairLength(B, ID_PROPERTY, message.id);
    const reply = stringProperty(B, replyTo);
    const correlation = stringProperty(B, correlationId);
    if (reply < 0 || correlation < 0) return undefined;
    propertiesLength += reply + correlation;
    if (expiresAt !== undefined) {
      expiry = Math.max(1, Math.ceil((expiresAt - Date.now()) / 1000));
      if (expiry > 0xffff_ffff) return undefined;
      propertiesLength += 5;
    }
  }
  const remaining =
    2 +
    topicLength +
    (message.qos > 0 ? 2 : 0) +
    (version === 5 ? varIntLength(propertiesLength) + propertiesLength : 0) +
    payload.byteLength;
  if (topicLength > 0xffff || remaining > 268_435_455) return undefined;
  const out = B.allocUnsafe(1 + varIntLength(remaining) + remaining);
  out[0] = 0x30 | (message.qos << 1) | (message.retain ? 1 : 0);
  let at = writeVarInt(out, 1, remaining);
  at = writeString(out, at, topic);
  if (message.qos > 0) {
    out[at++] = messageId >> 8;
    out[at++] = messageId & 0xff;
  }
  if (version === 5) {
    at = writeVarInt(out, at, propertiesLength);
    let idWritten = false;
    if (headers) {
      for (const name in headers) {
        const isId = name === ID_PROPERTY;
        idWritten ||= isId;
        out[at++] = 0x26;
        at = writeString(out, at, name);
        at = writeString(out, at, isId ? message.id : headers[name]!);
      }
    }
    if (!idWritten) {
      out[at++] = 0x26;
      at = writeString(out, at, ID_PROPERTY);
      at = writeString(out, at, message.id);
    }
    if (replyTo !== undefined) {
      out[at++] = 0x08;
      at = writeString(out, at, replyTo);
    }
    if (correlationId !== undefined) {
      out[at++] = 0x09;
      at = writeString(out, at, correlationId);
    }
    if (expiresAt !== undefined) {
      out[at++] = 0x02;
      out[at++] = expiry >>> 24;
      out[at++] = (expiry >>> 16) & 0xff;
      out[at++] = (expiry >>> 8) & 0xff;
      out[at++] = expiry & 0xff;
    }
  }
  out.set(payload, at);
  return out;
}

/** A string property's bytes (0 when absent), or -1 when it is longer than MQTT allows. */
function stringProperty(B: BufferClass, text: string | undefined): number {
  if (text === undefined) return 0;
  const length = B.byteLength(text);
  return length > 0xffff ? -1 : 3 + length;
}

/** A user property's bytes, or -1 when a string is longer than MQTT allows. */
function pairLength(B: BufferClass, name: string, value: string): number {
  const a = B.byteLength(name);
  const b = B.byteLength(value);
  return a > 0xffff || b > 0xffff ? -1 : 5 + a + b;
}

function writeVarInt(out: Uint8Array, start: number, value: number): number {
  let at = start;
  let n = value;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out[at++] = byte;
  } while (n > 0);
  return at;
}

/** A length-prefixed UTF-8 string. */
function writeString(out: NodeBuffer, at: number, text: string): number {
  const length = out.write(text, at + 2);
  out[at] = length >> 8;
  out[at + 1] = length & 0xff;
  return at + 2 + length;
}
