/**
 * Fuzzing the MQTT adapter's own decoders: the 3.1.1 JSON envelope (unwrap, and fromWire that
 * applies it), and the frame tracker that follows packet boundaries and checks PUBLISH topics.
 * No input may crash them or hang; every rejection is a GmqError `protocol`; what the encoder
 * writes decodes back exactly.
 */
import fc from "fast-check";
import { GmqError, type OutboundMessage } from "gmq";
import type { IPublishPacket } from "mqtt";
import { describe, expect, it } from "vitest";
import { isEnvelope, unwrap, wrap } from "../adapters/mqtt/envelope.js";
import { frameTracker } from "../adapters/mqtt/frames.js";
import { fromWire } from "../adapters/mqtt/message.js";
import { FuzzTally, fuzz } from "./support/fuzz.js";

const text = fc.string({ unit: "binary", maxLength: 40 });
/** Header names, with the ones that trip up plain objects. */
const headerName = fc.oneof(
  text,
  fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", ""),
);
const message = fc.record(
  {
    id: text,
    topic: fc.constant("t"),
    payload: fc.uint8Array({ maxLength: 300 }),
    qos: fc.constantFrom(0 as const, 1 as const),
    headers: fc.array(fc.tuple(headerName, text), { maxLength: 6 }).map((pairs) => {
      const headers: Record<string, string> = {};
      for (const [name, value] of pairs)
        Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
      return headers;
    }),
    replyTo: text,
    correlationId: text,
  },
  { requiredKeys: ["id", "topic", "payload", "qos"] },
) as fc.Arbitrary<OutboundMessage>;

/** An unwrap outcome is either a well-typed message or a GmqError `protocol`. */
function unwrapChecked(bytes: Uint8Array, tally: FuzzTally): void {
  tally.inputs++;
  let result: ReturnType<typeof unwrap>;
  try {
    result = unwrap(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(GmqError);
    expect(error).toMatchObject({ code: "protocol", reason: "MALFORMED_ENVELOPE" });
    tally.rejected++;
    return;
  }
  expect(result.payload).toBeInstanceOf(Uint8Array);
  for (const key of ["id", "replyTo", "correlationId"] as const) {
    if (result[key] !== undefined) expect(typeof result[key]).toBe("string");
  }
  if (result.headers) for (const value of Object.values(result.headers)) expect(typeof value).toBe("string");
  tally.accepted++;
}

/** Random edits of a byte string: flips, cuts, insertions. */
const mutations = fc.array(
  fc.tuple(fc.constantFrom("flip", "delete", "insert"), fc.nat(), fc.integer({ min: 0, max: 255 })),
  { minLength: 1, maxLength: 4 },
);
function mutate(bytes: Uint8Array, edits: [string, number, number][]): Uint8Array {
  const out = Array.from(bytes);
  for (const [kind, at, value] of edits) {
    const i = out.length === 0 ? 0 : at % out.length;
    if (kind === "flip" && out.length > 0) out[i]! ^= 1 << (value % 8);
    else if (kind === "delete") out.splice(i, 1 + (value % 8));
    else out.splice(i, 0, value);
  }
  return Uint8Array.from(out);
}

describe("fuzz: the MQTT 3.1.1 envelope", () => {
  it("round-trips any message", () => {
    const tally = new FuzzTally();
    fuzz(1000, message, (m) => {
      tally.inputs++;
      const bytes = wrap(m);
      expect(isEnvelope(bytes)).toBe(true);
      const got = unwrap(bytes);
      expect(Array.from(got.payload)).toEqual(Array.from(m.payload));
      expect(got.id).toBe(m.id);
      expect(got.replyTo).toBe(m.replyTo);
      expect(got.correlationId).toBe(m.correlationId);
      const sent = m.headers && Object.keys(m.headers).length > 0 ? m.headers : undefined;
      expect(got.headers === undefined ? undefined : Object.entries(got.headers)).toEqual(
        sent === undefined ? undefined : Object.entries(sent),
      );
      if (got.headers) expect(Object.getPrototypeOf(got.headers)).toBe(Object.prototype);
      tally.accepted++;
      tally.roundTrips++;
    });
    tally.record(
      "MQTT 3.1.1 envelope, wrap → unwrap",
      "random messages (ids, headers incl. __proto__, replies, payloads)",
      "protocol",
    );
  });

  it("rejects arbitrary bytes, mutated envelopes and hostile JSON only with `protocol`", () => {
    const tally = new FuzzTally();
    fuzz(1000, fc.uint8Array({ maxLength: 200 }), (bytes) => unwrapChecked(bytes, tally));
    fuzz(1000, message, mutations, (m, edits) => unwrapChecked(mutate(wrap(m), edits), tally));
    const field = fc.oneof(fc.jsonValue({ maxDepth: 3 }), text);
    const hostile = fc.record(
      {
        gmq: fc.constant(1),
        id: field,
        h: fc.oneof(field, fc.dictionary(headerName, field)),
        rt: field,
        cid: field,
        p: fc.oneof(field, fc.base64String()),
      },
      { requiredKeys: ["gmq"] },
    );
    fuzz(1000, hostile, (body) => unwrapChecked(new TextEncoder().encode(JSON.stringify(body)), tally));
    // Deep nesting where a string is expected.
    const deep = `{"gmq":1,"p":"","h":{"a":${"[".repeat(100_000)}${"]".repeat(100_000)}}}`;
    unwrapChecked(new TextEncoder().encode(deep), tally);
    tally.record(
      "MQTT 3.1.1 envelope, unwrap",
      "random bytes, mutated envelopes, hostile JSON fields, 100k-deep nesting",
      "protocol (MALFORMED_ENVELOPE)",
    );
  });

  it("fromWire never throws: a malformed envelope is reported and delivered raw", () => {
    const tally = new FuzzTally();
    const payloads = fc.oneof(
      fc.uint8Array({ maxLength: 100 }),
      message.map((m) => wrap(m)),
      fc.tuple(message, mutations).map(([m, e]) => mutate(wrap(m), e)),
    );
    fuzz(1000, payloads, fc.constantFrom(4 as const, 5 as const), (payload, version) => {
      tally.inputs++;
      const errors: unknown[] = [];
      const packet = {
        cmd: "publish",
        topic: "t",
        payload: Buffer.from(payload),
        qos: 0,
        retain: false,
        dup: false,
      } as IPublishPacket;
      const inbound = fromWire(packet, { version, envelope: true }, (error) => errors.push(error));
      expect(inbound.topic).toBe("t");
      expect(inbound.payload).toBeInstanceOf(Uint8Array);
      for (const error of errors) expect(error).toMatchObject({ code: "protocol" });
      if (errors.length > 0) tally.rejected++;
      else tally.accepted++;
    });
    tally.record(
      "MQTT inbound mapping (fromWire) with the envelope",
      "random, valid and mutated envelope payloads",
      "protocol (reported, message delivered raw)",
    );
  });
});

describe("fuzz: the MQTT frame tracker", () => {
  /** A packet as bytes: a PUBLISH with any topic bytes, or any other packet type. */
  const packet = fc.oneof(
    fc
      .record({
        topic: fc.uint8Array({ maxLength: 40 }),
        qos: fc.constantFrom(0, 1, 2),
        body: fc.uint8Array({ maxLength: 200 }),
      })
      .map(({ topic, qos, body }) => {
        const rest = [topic.length >> 8, topic.length & 0xff, ...topic, ...(qos > 0 ? [0, 1] : []), ...body];
        return {
          bytes: Uint8Array.from([0x30 | (qos << 1), ...varint(rest.length), ...rest]),
          topic: topic as Uint8Array | undefined,
        };
      }),
    fc
      .record({
        type: fc.constantFrom(2, 4, 5, 6, 7, 9, 11, 13, 14),
        body: fc.uint8Array({ maxLength: 300 }),
      })
      .map(({ type, body }) => ({
        bytes: Uint8Array.from([type << 4, ...varint(body.length), ...body]),
        topic: undefined as Uint8Array | undefined,
      })),
  );
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const valid = (topic: Uint8Array) => {
    try {
      strict.decode(topic);
      return true;
    } catch {
      return false;
    }
  };

  it("agrees with a strict UTF-8 decoder on every PUBLISH topic, however the stream is cut", () => {
    const tally = new FuzzTally();
    fuzz(
      1000,
      fc.array(packet, { maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
      (packets, cuts) => {
        tally.inputs++;
        const stream = Uint8Array.from(packets.flatMap((p) => Array.from(p.bytes)));
        const tracker = frameTracker();
        let at = 0;
        for (let i = 0; at < stream.length; i++) {
          const size = cuts[i % cuts.length]!;
          tracker.feed(stream.subarray(at, at + size));
          at += size;
        }
        expect(tracker.midPacket).toBe(false);
        const publishes = packets.filter((p) => p.topic !== undefined);
        publishes.forEach((p, n) => {
          expect(tracker.malformedTopic(n)).toBe(!valid(p.topic!));
        });
        tally.accepted++;
      },
    );
    // Garbage: never throws, whatever it makes of it.
    fuzz(1000, fc.uint8Array({ maxLength: 500 }), (bytes) => {
      tally.inputs++;
      const tracker = frameTracker();
      tracker.feed(bytes);
      tracker.describe();
      for (let n = 0; n < 5; n++) tracker.malformedTopic(n);
      tally.accepted++;
    });
    tally.record(
      "MQTT frame tracker (packet boundaries, PUBLISH topic UTF-8)",
      "packet streams cut at random points, and random bytes",
      "malformed topics",
    );
  });
});

function varint(n: number): number[] {
  const out: number[] = [];
  let rest = n;
  do {
    out.push((rest & 0x7f) | (rest > 0x7f ? 0x80 : 0));
    rest >>= 7;
  } while (rest > 0);
  return out;
}
