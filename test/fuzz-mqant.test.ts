/**
 * Fuzzing the mqant decoders: the adapter's reply decoding (envelope, decoder checks, Result
 * re-encoding, gate error mapping) and the gate emulator's own parsers (MQTT packets as the Go gate
 * reads them, topics, call payloads). No input may crash them or hang; the adapter rejects only
 * with GmqError `protocol`; what an encoder writes decodes back exactly.
 */
import fc from "fast-check";
import { ERROR_CODES, GmqError } from "gmq";
import { describe, expect, it } from "vitest";
import { decodeReply, envelopeDecoder, gateError, resultBytes } from "../adapters/mqant/reply.js";
import { envelope, goJson } from "../adapters/testing/mqant/go-json.js";
import {
  concatBytes,
  encodeAck,
  encodePublishParts,
  PUBACK,
  PUBCOMP,
  PUBREC,
  parsePacket,
  UNSUBACK,
} from "../adapters/testing/mqant/packets.js";
import { classifyPayload, parseTopic } from "../adapters/testing/mqant/router.js";
import { FuzzTally, fuzz } from "./support/fuzz.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = fc.string({ unit: "binary", maxLength: 40 });

/** Decodes a reply the way a call does; returns the result bytes, or undefined when rejected. */
function decodeChecked(payload: Uint8Array, tally: FuzzTally, bytes = false): Uint8Array | undefined {
  tally.inputs++;
  try {
    const reply = decodeReply(envelopeDecoder, "M/HD_x/1", payload);
    expect(typeof reply.ok).toBe("boolean");
    expect(typeof reply.error).toBe("string");
    if (!reply.ok) {
      const error = gateError(reply.error, reply);
      expect(ERROR_CODES).toContain(error.code);
      tally.accepted++;
      return undefined;
    }
    const out = resultBytes(reply.result, bytes);
    expect(out).toBeInstanceOf(Uint8Array);
    tally.accepted++;
    return out;
  } catch (error) {
    expect(error).toBeInstanceOf(GmqError);
    expect(error).toMatchObject({ code: "protocol", reason: "DECODE_ERROR" });
    tally.rejected++;
    return undefined;
  }
}

describe("fuzz: mqant replies", () => {
  it("round-trips every JSON Result the gate emulator encodes", () => {
    const tally = new FuzzTally();
    fuzz(1000, text, fc.jsonValue({ maxDepth: 4 }), (trace, value) => {
      const out = decodeChecked(envelope(trace, "", goJson(value)), tally);
      expect(out).toBeDefined();
      expect(JSON.parse(decoder.decode(out))).toEqual(JSON.parse(JSON.stringify(value)));
      tally.roundTrips++;
    });
    // Go []byte arrives as base64 and comes back as the bytes with `mqant-result: bytes`.
    fuzz(300, fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const out = decodeChecked(envelope("", "", goJson(bytes)), tally, true);
      expect(Array.from(out!)).toEqual(Array.from(bytes));
      tally.roundTrips++;
    });
    tally.record(
      "mqant reply (emulator encodes → adapter decodes)",
      "random JSON Results and []byte results",
      "protocol",
    );
  });

  it("rejects arbitrary bytes, mutated envelopes and hostile bodies only with `protocol`", () => {
    const tally = new FuzzTally();
    fuzz(1000, fc.uint8Array({ maxLength: 200 }), (bytes) => {
      decodeChecked(bytes, tally);
      decodeChecked(bytes, tally, true);
    });
    const field = fc.oneof(fc.jsonValue({ maxDepth: 3 }), text);
    const hostile = fc.record(
      { Trace: field, Error: fc.oneof(field, text), Result: field },
      { requiredKeys: [] },
    );
    fuzz(1000, hostile, fc.boolean(), (body, bytes) => {
      decodeChecked(encoder.encode(JSON.stringify(body)), tally, bytes);
    });
    fuzz(
      1000,
      text,
      fc.jsonValue({ maxDepth: 3 }),
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      (trace, value, at, byte) => {
        const valid = envelope(trace, "", goJson(value));
        const mutated = Uint8Array.from(valid);
        mutated[at % mutated.length] = byte;
        decodeChecked(mutated, tally);
      },
    );
    // Nesting deeper than any stack, in the Result and in the Error.
    for (const depth of [1_000, 100_000]) {
      decodeChecked(encoder.encode(`{"Error":"","Result":${"[".repeat(depth)}${"]".repeat(depth)}}`), tally);
      decodeChecked(encoder.encode(`{"Error":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`), tally);
    }
    tally.record(
      "mqant reply decoding",
      "random bytes, mutated envelopes, hostile fields, 100k-deep nesting",
      "protocol (DECODE_ERROR)",
    );
  });

  it("maps any gate error text onto a code of the closed set", () => {
    const tally = new FuzzTally();
    const errorText = fc.oneof(
      fc.string({ unit: "binary", maxLength: 200 }),
      fc.constantFrom(
        "deadline exceeded",
        "the work queue is full!",
        "The JSON format is incorrect",
        "----Stack----",
      ),
      fc
        .tuple(fc.constantFrom("Service(type:", "Remote function(", "Method(", "Topic must be "), text)
        .map(([a, b]) => a + b),
    );
    fuzz(1000, errorText, (message) => {
      tally.inputs++;
      const error = gateError(message, { ok: false, result: null, error: message, trace: undefined });
      expect(error).toBeInstanceOf(GmqError);
      expect(ERROR_CODES).toContain(error.code);
      tally.accepted++;
    });
    tally.record("mqant gate error mapping", "random and near-miss gate error texts", "—");
  });
});

describe("fuzz: the gate emulator's parsers", () => {
  const options = { maxPackSize: 1 << 20, shortPayloadIsError: false };

  it("parsePacket never throws, and reads back every PUBLISH and ack the encoders write", () => {
    const tally = new FuzzTally();
    fuzz(3000, fc.uint8Array({ maxLength: 300 }), fc.nat(20), (bytes, start) => {
      tally.inputs++;
      const at = Math.min(start, bytes.length);
      const result = parsePacket(bytes, at, options);
      expect(["ok", "incomplete", "error"]).toContain(result.status);
      if (result.status === "ok") {
        expect(result.consumed).toBeGreaterThan(0);
        expect(at + result.consumed).toBeLessThanOrEqual(bytes.length);
        tally.accepted++;
      } else tally.rejected++;
    });
    const topic = fc.string({ unit: "binary", minLength: 1, maxLength: 60 });
    fuzz(1000, topic, fc.uint8Array({ maxLength: 3000 }), (t, payload) => {
      tally.inputs++;
      const bytes = concatBytes(encodePublishParts(t, payload));
      const result = parsePacket(bytes, 0, options);
      expect(result).toMatchObject({
        status: "ok",
        consumed: bytes.length,
        packet: { type: "publish", topic: t },
      });
      expect(Array.from((result as { packet: { payload: Uint8Array } }).packet.payload)).toEqual(
        Array.from(payload),
      );
      // Any strict prefix is a packet still arriving.
      for (const cut of [0, 1, 2, bytes.length >> 1, bytes.length - 1]) {
        expect(parsePacket(bytes.subarray(0, cut), 0, options).status).toBe("incomplete");
      }
      tally.accepted++;
      tally.roundTrips++;
    });
    fuzz(
      500,
      fc.constantFrom(PUBACK, PUBREC, PUBCOMP, UNSUBACK),
      fc.integer({ min: 0, max: 0xffff }),
      (type, id) => {
        tally.inputs++;
        const result = parsePacket(encodeAck(type, id), 0, options);
        expect(result).toMatchObject({ status: "ok", consumed: 4, packet: { messageId: id } });
        tally.accepted++;
        tally.roundTrips++;
      },
    );
    tally.record(
      "mqant gate emulator packet parser",
      "random bytes at random offsets; encoded PUBLISH and acks, and their prefixes",
      "parse errors / incomplete",
    );
  });

  it("topics and call payloads: never a throw", () => {
    const tally = new FuzzTally();
    fuzz(
      3000,
      fc.string({ unit: "binary", maxLength: 80 }),
      fc.uint8Array({ maxLength: 200 }),
      (topic, payload) => {
        tally.inputs++;
        const route = parseTopic(topic);
        expect(["bad-topic", "call"]).toContain(route.kind);
        const braced = Uint8Array.from([0x7b, ...payload, 0x7d]);
        for (const p of [payload, braced]) {
          const arg = classifyPayload(p);
          expect(arg === "bad-json" || arg.tag === "map" || arg.tag === "bytes").toBe(true);
        }
        tally.accepted++;
      },
    );
    tally.record(
      "mqant gate emulator topic and payload parsing",
      "random topics and payloads, with and without braces",
      "bad topic / bad JSON",
    );
  });
});
