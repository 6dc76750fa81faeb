import { GmqError } from "./errors.js";

/** Turns application values into payload bytes and back. JSON is the default. */
export interface Codec<T = unknown> {
  readonly name: string;
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** UTF-8, shared by everything that encodes text. */
export const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export const jsonCodec: Codec<unknown> = {
  name: "json",
  encode(value) {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      throw new GmqError("invalid_argument", `payload: not JSON-serialisable (${(error as Error).message})`, {
        field: "payload",
        cause: error,
      });
    }
    // JSON.stringify returns undefined for undefined, functions and symbols.
    if (text === undefined) throw GmqError.invalid("payload", `${typeof value} is not JSON-serialisable`);
    return encoder.encode(text);
  },
  decode(bytes) {
    if (bytes.byteLength === 0) return undefined;
    try {
      return JSON.parse(decoder.decode(bytes));
    } catch (error) {
      throw new GmqError("protocol", `payload is not valid JSON: ${(error as Error).message}`, {
        cause: error,
      });
    }
  },
};

export const textCodec: Codec<string> = {
  name: "text",
  encode(value) {
    if (typeof value !== "string") throw GmqError.invalid("payload", "the text codec takes a string");
    return encoder.encode(value);
  },
  decode(bytes) {
    try {
      return decoder.decode(bytes);
    } catch (error) {
      throw new GmqError("protocol", "payload is not valid UTF-8", { cause: error });
    }
  },
};

export const bytesCodec: Codec<Uint8Array> = {
  name: "bytes",
  encode(value) {
    if (!(value instanceof Uint8Array))
      throw GmqError.invalid("payload", "the bytes codec takes a Uint8Array");
    return value;
  },
  decode: (bytes) => bytes,
};

/** Raw bytes pass through whatever the codec: that is what interop with non-gmq clients needs. */
export function encodePayload(codec: Codec<any>, value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  return codec.encode(value);
}
