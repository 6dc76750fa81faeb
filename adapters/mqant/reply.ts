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

/** Fatal: a reply that is not UTF-8 is malformed, not text with U+FFFD in it. */
const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

const decodeError = (message: string, options: { cause?: unknown; details?: unknown } = {}) =>
  new GmqError("protocol", message, { reason: MQANT_REASONS.DECODE_ERROR, ...options });

/** The default `{"Trace":…,"Error":…,"Result":…}` envelope. */
export const envelopeDecoder: ReplyDecoder = (_topic, payload) => {
  let body: unknown;
  try {
    body = JSON.parse(decoder.decode(payload));
  } catch (error) {
    throw decodeError("mqant reply is not a JSON envelope", { cause: error });
  }
  if (typeof body !== "object" || body === null || typeof (body as { Error?: unknown }).Error !== "string") {
    throw decodeError("mqant reply has no Error field", { details: body });
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

/**
 * Runs the decoder on a reply. Whatever goes wrong in there is the reply's fault, never the
 * remote application's: anything but a GmqError it throws, and anything it returns that is not
 * a GateReply, become `protocol` (DECODE_ERROR), so that a hostile or broken gate cannot pass for
 * a failing handler (`remote`).
 */
export function decodeReply(decode: ReplyDecoder, topic: string, payload: Uint8Array): GateReply {
  let reply: GateReply;
  try {
    reply = decode(topic, payload);
  } catch (error) {
    if (error instanceof GmqError) throw error;
    throw decodeError(`mqant reply could not be decoded: ${(error as Error)?.message ?? String(error)}`, {
      cause: error,
    });
  }
  if (
    typeof reply !== "object" ||
    reply === null ||
    typeof reply.ok !== "boolean" ||
    typeof reply.error !== "string"
  ) {
    throw decodeError("mqant reply decoder returned something that is not a GateReply");
  }
  return reply;
}

/** The handler's result as payload bytes for the core's codec; Go `[]byte` arrives as base64. */
export function resultBytes(result: unknown, base64Bytes: boolean): Uint8Array {
  if (result instanceof Uint8Array) return result;
  if (base64Bytes && typeof result === "string") {
    try {
      return Uint8Array.from(atob(result), (c) => c.charCodeAt(0));
    } catch (error) {
      throw decodeError("mqant Result is not base64", { cause: error });
    }
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(result);
  } catch (error) {
    // A Result nested deeper than the stack (JSON.parse takes any depth, JSON.stringify does not).
    throw decodeError(`mqant Result cannot be passed on: ${(error as Error)?.message ?? String(error)}`, {
      cause: error,
    });
  }
  if (text === undefined) throw decodeError("mqant Result is not a JSON value");
  return encoder.encode(text);
}

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
