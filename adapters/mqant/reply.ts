import { GmqError } from "gmq";
import { MQANT_REASONS } from "./reasons.js";

/** A gate reply, decoded. `result` is what the handler returned (JSON value, or raw bytes). */
export interface GateReply {
  readonly ok: boolean;
  readonly result: unknown;
  /** The gate's `Error` text; "" on success. */
  readonly error: string;
  /** Per-connection trace id (16 hex), when the envelope has one. */
  readonly trace: string | undefined;
}

/** Turns the bytes of a reply into a GateReply; pluggable for gates with a custom envelope. */
export type ReplyDecoder = (topic: string, payload: Uint8Array) => GateReply;

const decoder = new TextDecoder();

/** The default `{"Trace":…,"Error":…,"Result":…}` envelope. */
export const envelopeDecoder: ReplyDecoder = (_topic, payload) => {
  let body: unknown;
  try {
    body = JSON.parse(decoder.decode(payload));
  } catch (error) {
    throw new GmqError("protocol", "mqant reply is not a JSON envelope", {
      reason: MQANT_REASONS.DECODE_ERROR,
      cause: error,
    });
  }
  if (typeof body !== "object" || body === null || typeof (body as { Error?: unknown }).Error !== "string") {
    throw new GmqError("protocol", "mqant reply has no Error field", {
      reason: MQANT_REASONS.DECODE_ERROR,
      details: body,
    });
  }
  const {
    Error: error,
    Result: result,
    Trace: trace,
  } = body as { Error: string; Result?: unknown; Trace?: unknown };
  return {
    ok: error === "",
    result: result ?? null,
    error,
    trace: typeof trace === "string" ? trace : undefined,
  };
};

/** For handlers that return a ProtocolMarshal value: the payload is the whole result, as bytes. */
export const rawDecoder: ReplyDecoder = (_topic, payload) => ({
  ok: true,
  result: payload,
  error: "",
  trace: undefined,
});

/** Maps the gate's error text onto gmq's closed codes; the mqant name goes in `reason`. */
export function gateError(text: string, reply: GateReply): GmqError {
  const details = { trace: reply.trace, result: reply.result };
  const make = (code: ConstructorParameters<typeof GmqError>[0], reason: string, message = text) =>
    new GmqError(code, message, { reason, details });
  if (text === "deadline exceeded") return make("timeout", MQANT_REASONS.SERVER_TIMEOUT);
  if (text === "the work queue is full!") return make("busy", MQANT_REASONS.BUSY);
  if (/^Service\(type:.*\) not found$/.test(text))
    return make("no_responder", MQANT_REASONS.MODULE_NOT_FOUND);
  if (/^Remote function\(.*\) not found$/.test(text))
    return make("no_responder", MQANT_REASONS.HANDLER_NOT_FOUND);
  if (/^Method\(.*\) must begin with 'HD_'$/.test(text))
    return make("invalid_argument", MQANT_REASONS.BAD_HANDLER);
  if (text.startsWith("Topic must be ")) return make("invalid_argument", MQANT_REASONS.BAD_TOPIC);
  if (text === "The JSON format is incorrect") return make("invalid_argument", MQANT_REASONS.BAD_JSON);
  if (text.includes("----Stack----")) {
    const [first = text, ...rest] = text.split("\n");
    return new GmqError("remote", first, {
      reason: MQANT_REASONS.SERVER_PANIC,
      details: { ...details, stack: rest.join("\n") },
    });
  }
  return make("remote", MQANT_REASONS.APPLICATION);
}
