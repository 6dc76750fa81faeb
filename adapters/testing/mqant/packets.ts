/**
 * The gate's hand-written MQTT 3.1/3.1.1 subset (spec §2.2–§2.5).
 *
 * The parser mirrors the Go gate's `ReadPack`, which reads field by field from a buffered stream
 * rather than slicing one packet by its remaining length. That is what makes the quirks happen:
 * a v5 CONNECT's properties length is read as the client-id length, PINGREQ/DISCONNECT never
 * consume a body, SUBSCRIBE loops on a length that still counts the packet id. So `parsePacket`
 * consumes exactly the bytes Go would read, and reports "incomplete" where Go would block.
 */

export const CONNECT = 1;
export const CONNACK = 2;
export const PUBLISH = 3;
export const PUBACK = 4;
export const PUBREC = 5;
export const PUBREL = 6;
export const PUBCOMP = 7;
export const SUBSCRIBE = 8;
export const SUBACK = 9;
export const UNSUBSCRIBE = 10;
export const UNSUBACK = 11;
export const PINGREQ = 12;
export const PINGRESP = 13;
export const DISCONNECT = 14;

/** Client ids must be 1–64 bytes; anything else is a parse error (silent close). */
export const MAX_CLIENT_ID_BYTES = 64;

export interface ConnectPacket {
  readonly type: "connect";
  readonly protocol: string;
  readonly version: number;
  readonly keepAlive: number;
  readonly clientId: string;
  readonly cleanSession: boolean;
  readonly will?: { readonly topic: string; readonly message: string };
  readonly username?: string;
  readonly password?: string;
}

export interface PublishPacket {
  readonly type: "publish";
  readonly dup: number;
  readonly qos: number;
  readonly retain: number;
  readonly topic: string;
  readonly messageId: number;
  readonly payload: Uint8Array;
}

export type InboundPacket =
  | ConnectPacket
  | PublishPacket
  | { readonly type: "puback" | "pubrec" | "pubrel" | "pubcomp" | "unsuback"; readonly messageId: number }
  | { readonly type: "suback"; readonly messageId: number; readonly qos: number }
  | {
      readonly type: "subscribe";
      readonly messageId: number;
      readonly topics: ReadonlyArray<{ readonly name: string; readonly qos: number }>;
    }
  | { readonly type: "unsubscribe"; readonly messageId: number; readonly topics: readonly string[] }
  | { readonly type: "pingreq"; readonly dup: number }
  | { readonly type: "disconnect" }
  | { readonly type: "other"; readonly code: number };

export type ParseResult =
  | { readonly status: "incomplete" }
  | { readonly status: "error"; readonly reason: string }
  | { readonly status: "ok"; readonly packet: InboundPacket; readonly consumed: number };

export interface ParseOptions {
  /** Largest accepted remaining length (`MaxPackSize`). */
  readonly maxPackSize: number;
  /** v1.2.0: a PUBLISH whose `remaining - topic - 2` is below 2 is a parse error. */
  readonly shortPayloadIsError: boolean;
}

/** Thrown by the reader when Go would block waiting for more bytes. */
class NeedMore extends Error {}
const NEED_MORE = new NeedMore("need more bytes");

/** Raised for what Go reports as a parse error (the connection is then closed). */
class Malformed extends Error {}

const utf8 = new TextDecoder();

class Reader {
  pos: number;
  constructor(
    private readonly buf: Uint8Array,
    start: number,
  ) {
    this.pos = start;
  }
  byte(): number {
    const b = this.buf[this.pos];
    if (b === undefined) throw NEED_MORE;
    this.pos++;
    return b;
  }
  u16(): number {
    if (this.pos + 2 > this.buf.length) throw NEED_MORE;
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) throw NEED_MORE;
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** Go's readString: a u16 length, then that many bytes. Returns the text and the length read. */
  string(): [string, number] {
    const n = this.u16();
    return [n > 0 ? utf8.decode(this.bytes(n)) : "", n];
  }
}

/** Parse one packet starting at `start`, exactly as far as the Go parser would read. */
export function parsePacket(buf: Uint8Array, start: number, opts: ParseOptions): ParseResult {
  const r = new Reader(buf, start);
  try {
    const packet = readPacket(r, opts);
    return { status: "ok", packet, consumed: r.pos - start };
  } catch (err) {
    if (err instanceof NeedMore) return { status: "incomplete" };
    if (err instanceof Malformed) return { status: "error", reason: err.message };
    throw err;
  }
}

function readPacket(r: Reader, opts: ParseOptions): InboundPacket {
  const fixed = r.byte();
  const type = fixed >> 4;
  const dup = (fixed & 15) >> 3;
  const qos = (fixed & 7) >> 1;
  const retain = fixed & 1;

  // Only three remaining-length bytes are read; a continuation bit on the third is ignored.
  let length = 0;
  let multiplier = 1;
  let countLen = 1;
  let digit = r.byte();
  for (;;) {
    countLen++;
    length += (digit & 127) * multiplier;
    if (digit >> 7 !== 0 && countLen < 4) {
      digit = r.byte();
      multiplier *= 128;
    } else break;
  }
  if (length > opts.maxPackSize) throw new Malformed(`pack length ${length} > MaxPackSize`);

  switch (type) {
    case CONNECT:
      return readConnect(r, length);
    case PUBLISH:
      return readPublish(r, length, { dup, qos, retain }, opts);
    case PUBACK:
    case PUBREC:
    case PUBREL:
    case PUBCOMP:
    case UNSUBACK: {
      if (length !== 2) throw new Malformed(`Pack(${type}) length(${length}) != 2`);
      const names = { 4: "puback", 5: "pubrec", 6: "pubrel", 7: "pubcomp", 11: "unsuback" } as const;
      return { type: names[type], messageId: r.u16() };
    }
    case SUBACK: {
      if (length !== 3) throw new Malformed(`Pack(${type}) length(${length}) != 3`);
      const messageId = r.u16();
      return { type: "suback", messageId, qos: r.byte() };
    }
    case SUBSCRIBE: {
      const messageId = r.u16();
      const topics: Array<{ name: string; qos: number }> = [];
      // Go starts from the full remaining length (packet id included) and stops below 4 bytes.
      let vlen = length;
      while (vlen > 3) {
        const nlen = r.u16();
        const name = utf8.decode(r.bytes(nlen));
        const topicQos = r.byte();
        vlen -= 2 + nlen + 1;
        topics.push({ name, qos: topicQos });
      }
      return { type: "subscribe", messageId, topics };
    }
    case UNSUBSCRIBE: {
      const messageId = r.u16();
      const topics: string[] = [];
      let vlen = length;
      while (vlen > 3) {
        const nlen = r.u16();
        topics.push(utf8.decode(r.bytes(nlen)));
        vlen -= 2 + nlen;
      }
      return { type: "unsubscribe", messageId, topics };
    }
    case PINGREQ:
      // No body is read, whatever the remaining length says.
      return { type: "pingreq", dup };
    case DISCONNECT:
      return { type: "disconnect" };
    default:
      if (length > 0) r.bytes(length);
      return { type: "other", code: type };
  }
}

function readConnect(r: Reader, length: number): ConnectPacket {
  const [protocol, protoLen] = r.string();
  if (protoLen > length - 4) throw new Malformed(`out of range:${length - protoLen}`);
  const version = r.byte();
  const flags = r.byte();
  const keepAlive = r.u16();
  const userFlag = (flags & 0x80) !== 0;
  const passFlag = (flags & 0x40) !== 0;
  const willFlag = (flags & 0x04) !== 0;
  const cleanSession = (flags & 0x02) !== 0;

  // Go's running count forgets the 2-byte length prefixes; kept as is, it only decides optional reads.
  let payloadLen = length - 2 - protoLen - 4;
  // A v5 CONNECT has its properties length here, which Go reads as the client-id length.
  const [clientId, idLen] = r.string();
  if (idLen > MAX_CLIENT_ID_BYTES || idLen < 1) throw new Malformed(`Identifier Rejected length is:${idLen}`);
  payloadLen -= idLen;

  let will: ConnectPacket["will"];
  if (willFlag) {
    const [topic, topicLen] = r.string();
    payloadLen -= topicLen;
    if (payloadLen < 0) throw new Malformed(`length error : ${payloadLen}`);
    const [message, msgLen] = r.string();
    payloadLen -= msgLen;
    will = { topic, message };
  }
  let username: string | undefined;
  if (userFlag && payloadLen > 0) {
    const [u, n] = r.string();
    payloadLen -= n;
    if (payloadLen < 0) throw new Malformed(`length error : ${payloadLen}`);
    username = u;
  }
  let password: string | undefined;
  if (passFlag && payloadLen > 0) {
    const [p, n] = r.string();
    payloadLen -= n;
    if (payloadLen < 0) throw new Malformed(`length error : ${payloadLen}`);
    password = p;
  }
  return {
    type: "connect",
    protocol,
    version,
    keepAlive,
    clientId,
    cleanSession,
    ...(will ? { will } : {}),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
  };
}

function readPublish(
  r: Reader,
  length: number,
  flags: { dup: number; qos: number; retain: number },
  opts: ParseOptions,
): PublishPacket {
  const [topic, topicLen] = r.string();
  let vlen = length - topicLen - 2;
  if (topicLen < 1) throw new Malformed("empty topic");
  if (opts.shortPayloadIsError && vlen < 2) throw new Malformed(`length error :${vlen}`);
  let messageId = 0;
  if (flags.qos > 0) {
    messageId = r.u16();
    vlen -= 2;
  }
  // On master a negative size panics in make([]byte); either way the connection dies.
  if (vlen < 0) throw new Malformed(`length error :${vlen}`);
  return { type: "publish", ...flags, topic, messageId, payload: r.bytes(vlen) };
}

// ---------------------------------------------------------------------------------------------
// Encoders: everything the gate ever writes.

/** MQTT variable-length integer, as Go's getRemainingLength writes it. */
export function encodeRemainingLength(length: number): Uint8Array {
  const out: number[] = [];
  let rest = length;
  do {
    let digit = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) digit |= 128;
    out.push(digit);
  } while (rest > 0);
  return Uint8Array.from(out);
}

/** CONNACK is always accepted, session-present 0. */
export function encodeConnack(): Uint8Array {
  return Uint8Array.of(0x20, 0x02, 0x00, 0x00);
}

/** PUBACK/PUBREC/PUBCOMP/UNSUBACK `T0 02 id`; PUBREL carries QoS 1 in its flags (`62`). */
export function encodeAck(type: number, messageId: number): Uint8Array {
  const fixed = (type << 4) | (type === PUBREL ? 0x02 : 0);
  return Uint8Array.of(fixed, 0x02, (messageId >> 8) & 0xff, messageId & 0xff);
}

/** One SUBACK per QoS-2 filter, always granting QoS 0. */
export function encodeSuback(messageId: number): Uint8Array {
  return Uint8Array.of(0x90, 0x03, (messageId >> 8) & 0xff, messageId & 0xff, 0x00);
}

/** PINGRESP echoes the PINGREQ's DUP bit, like Go's GetPingResp(0, dup). */
export function encodePingresp(dup: number): Uint8Array {
  return Uint8Array.of(0xd0 | ((dup & 1) << 3), 0x00);
}

const utf8enc = new TextEncoder();

/**
 * Outbound PUBLISH (replies and pushes): QoS 0, no packet id, no retain, no dup.
 * Returned as the separate writes Go makes (header, topic, payload) so a buffered writer can be modelled.
 */
export function encodePublishParts(topic: string, payload: Uint8Array): Uint8Array[] {
  const topicBytes = utf8enc.encode(topic);
  const rl = encodeRemainingLength(2 + topicBytes.length + payload.length);
  const head = new Uint8Array(1 + rl.length + 2);
  head[0] = 0x30;
  head.set(rl, 1);
  head[1 + rl.length] = (topicBytes.length >> 8) & 0xff;
  head[2 + rl.length] = topicBytes.length & 0xff;
  return [head, topicBytes, payload];
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
