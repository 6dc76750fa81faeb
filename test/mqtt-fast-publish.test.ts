/**
 * The one-buffer PUBLISH (adapters/mqtt/fast-publish.ts): byte for byte what mqtt-packet writes
 * for the options the public path passes to mqtt.js, refused where MQTT's limits are exceeded, and
 * used only on the mqtt.js versions it is proven on. Both paths run the whole transport contract
 * in mqtt-mosquitto.test.ts and mqtt-aedes.test.ts.
 */
import { createRequire } from "node:module";
import fc from "fast-check";
import type { OutboundMessage } from "gmq";
import type mqttjs from "mqtt";
import mqttPacket from "mqtt-packet";
import { afterEach, describe, expect, test } from "vitest";
import { encodePublish, fastPublisher, PROVEN, useFastPublish } from "../adapters/mqtt/fast-publish.js";
import { type WireMode, wireOptions, wirePayload } from "../adapters/mqtt/message.js";
import { fuzz } from "./support/fuzz.js";

const require = createRequire(import.meta.url);

/** What mqtt.js's public path puts on the wire for this message (mqtt-packet's generate). */
function reference(message: OutboundMessage, mode: WireMode, messageId: number): string {
  const payload = wirePayload(message, mode);
  const options = wireOptions(message, mode);
  const properties = options.properties && { ...options.properties };
  // mqtt-packet's generate concatenates Buffers (mqtt.js's stream takes any Uint8Array).
  if (properties?.correlationData) properties.correlationData = Buffer.from(properties.correlationData);
  const packet = mqttPacket.generate(
    {
      cmd: "publish",
      topic: message.topic,
      payload: Buffer.from(payload),
      qos: message.qos,
      retain: options.retain ?? false,
      dup: false,
      ...(message.qos > 0 && { messageId }),
      ...(properties && { properties }),
    } as mqttPacket.IPublishPacket,
    { protocolVersion: mode.version },
  );
  return packet.toString("hex");
}

function encoded(message: OutboundMessage, mode: WireMode, messageId: number): string | undefined {
  const bytes = encodePublish(message, wirePayload(message, mode), mode.version, messageId);
  return bytes && Buffer.from(bytes).toString("hex");
}

const ID = "0kx1b2c3d0000001abcdefgh";
const v5: WireMode = { version: 5, envelope: false };
const v4: WireMode = { version: 4, envelope: false };
const envelope: WireMode = { version: 4, envelope: true };

describe("encodePublish", () => {
  test("writes what mqtt-packet writes, field by field", () => {
    const payload = new Uint8Array([0, 1, 2, 250, 255]);
    const cases: OutboundMessage[] = [
      { topic: "a/b", payload, id: ID, qos: 1 },
      { topic: "a/b", payload: new Uint8Array(0), id: ID, qos: 0 },
      { topic: "a/b", payload, id: ID, qos: 2, retain: true },
      { topic: "ünïcödé/😀", payload: new Uint8Array(20_000), id: ID, qos: 1 },
      {
        topic: "_gmq/rpc/Svc/method",
        payload,
        id: ID,
        qos: 1,
        replyTo: "_gmq/inbox/é",
        correlationId: ID,
        headers: { trace: "1", "1": "number-like names come first", "x-ü": "ü" },
      },
      { topic: "t", payload, id: ID, qos: 1, headers: { "gmq-id": "replaced by the id", after: "x" } },
      { topic: "t", payload, id: ID, qos: 1, expiresAt: Date.now() + 60_500 },
    ];
    for (const message of cases) {
      for (const mode of [v5, envelope]) {
        expect(encoded(message, mode, 0x1234)).toBe(reference(message, mode, 0x1234));
      }
    }
    expect(encoded(cases[0]!, v4, 1)).toBe(reference(cases[0]!, v4, 1));
  });

  test("writes what mqtt-packet writes, fuzzed", () => {
    const text = fc.string({ unit: "grapheme", maxLength: 40 });
    fuzz(
      300,
      fc.record(
        {
          topic: text.filter((t) => t.length > 0),
          payload: fc.uint8Array({ maxLength: 300 }),
          qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
          retain: fc.boolean(),
          headers: fc.dictionary(text, text, { maxKeys: 4 }),
          replyTo: text,
          correlationId: text,
        },
        { requiredKeys: ["topic", "payload", "qos"] },
      ),
      fc.integer({ min: 1, max: 0xffff }),
      fc.constantFrom(v5, envelope),
      (fields, messageId, mode) => {
        const message: OutboundMessage = { ...fields, id: ID };
        expect(encoded(message, mode, messageId)).toBe(reference(message, mode, messageId));
      },
    );
  });

  test("leaves to mqtt.js what MQTT's limits refuse", () => {
    const long = "x".repeat(0x1_0000);
    const payload = new Uint8Array(1);
    expect(encodePublish({ topic: long, payload, id: ID, qos: 1 }, payload, 5, 1)).toBeUndefined();
    for (const message of [
      { topic: "t", payload, id: ID, qos: 1, headers: { h: long } },
      { topic: "t", payload, id: ID, qos: 1, headers: { [long]: "v" } },
      { topic: "t", payload, id: ID, qos: 1, replyTo: long },
      { topic: "t", payload, id: ID, qos: 1, correlationId: long },
    ] as OutboundMessage[]) {
      expect(encodePublish(message, payload, 5, 1)).toBeUndefined();
    }
  });
});

describe("fastPublisher", () => {
  afterEach(() => useFastPublish(true));
  const client = {} as mqttjs.MqttClient;
  const write = () => {};

  test("only on the mqtt.js versions it is proven on, and the installed one is", () => {
    const installed = (require("mqtt/package.json") as { version: string }).version;
    expect(
      PROVEN.has(installed),
      `mqtt ${installed} is not in PROVEN: run the mqtt tests on it and add it (fast-publish.ts)`,
    ).toBe(true);
    expect(fastPublisher(client, installed, write)).toBeTypeOf("function");
    expect(fastPublisher(client, "5.15.1", write)).toBeUndefined();
    expect(fastPublisher(client, "6.0.0", write)).toBeUndefined();
    expect(fastPublisher(client, undefined, write)).toBeUndefined();
  });

  test("useFastPublish(false) sends every message through mqtt.js's public publish", () => {
    useFastPublish(false);
    expect(fastPublisher(client, [...PROVEN][0], write)).toBeUndefined();
  });

  test("declines while mqtt.js is not connected or out of packet ids", () => {
    const state = {
      _storeProcessing: false,
      _storeProcessingQueue: [],
      disconnecting: false,
      connected: false,
      outgoing: {},
      outgoingStore: { put: () => {} },
      _nextId: () => null,
      stream: { write: () => true },
    };
    const written: Uint8Array[] = [];
    const publish = fastPublisher(state as unknown as mqttjs.MqttClient, [...PROVEN][0], (packet) =>
      written.push(packet),
    )!;
    const message: OutboundMessage = { topic: "t", payload: new Uint8Array(1), id: ID, qos: 1 };
    expect(publish(message, message.payload, 5, () => {})).toBe(false);
    state.connected = true;
    expect(publish(message, message.payload, 5, () => {})).toBe(false);
    state._nextId = () => 7 as never;
    expect(publish(message, message.payload, 5, () => {})).toBe(true);
    expect(Object.keys(state.outgoing)).toEqual(["7"]);
    expect(written.map((packet) => Buffer.from(packet).toString("hex"))).toEqual([encoded(message, v5, 7)]);
  });
});
