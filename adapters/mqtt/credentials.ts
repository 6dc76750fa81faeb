/**
 * Username and password as mqtt.js can send them. Its packet writer accepts a password only as a
 * string or a Node Buffer, and only with a username; anything else makes it drop the socket
 * without a word (no CONNECT sent), which would look like a broker that hung up. So they are
 * checked here, with an error naming the field, and a binary password becomes a Buffer (Node) or
 * its exact UTF-8 text (a browser, where mqtt.js's Buffer is private to its bundle).
 */
import { GmqError } from "gmq";
import type { MqttCredentials } from "./options.js";

export interface WireCredentials {
  readonly username?: string;
  readonly password?: string | Uint8Array;
}

/** Checks credentials (from options or from `credentials()`, named by `source`). */
function checkCredentials(credentials: MqttCredentials, source: string): void {
  if (typeof credentials !== "object" || credentials === null) {
    throw GmqError.invalid(source, "must return an object with username and password");
  }
  const { username, password } = credentials;
  if (username !== undefined && typeof username !== "string")
    throw GmqError.invalid("username", "must be a string");
  if (password === undefined) return;
  if (typeof password !== "string" && !(password instanceof Uint8Array)) {
    throw GmqError.invalid("password", "must be a string or a Uint8Array");
  }
  if (username === undefined) {
    throw GmqError.invalid(
      "password",
      'needs a username: MQTT sends a password only with one (use "" if the broker ignores it)',
    );
  }
}

/**
 * Credentials in the form mqtt.js writes, a binary password made text or a Buffer by
 * `binaryPassword`. Throws `invalid_argument` for what it cannot.
 */
export function toWire(
  credentials: MqttCredentials,
  binaryPassword: (password: Uint8Array) => string | Uint8Array = utf8Password,
): WireCredentials {
  checkCredentials(credentials, "credentials()");
  const { username, password } = credentials;
  if (password === undefined || typeof password === "string") return credentials as WireCredentials;
  return { username, password: binaryPassword(password) };
}

/** A browser's binary password: its exact UTF-8 text, as mqtt.js's browser build sends only text. */
function utf8Password(password: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(password);
  } catch {
    throw GmqError.invalid(
      "password",
      "in a browser, a binary password must be valid UTF-8 (mqtt.js sends only text or a Node Buffer)",
    );
  }
}

interface NodeBuffer {
  from(buffer: ArrayBufferLike, byteOffset: number, length: number): Uint8Array;
}

/**
 * Node only (its entry passes this; the browser build leaves it out): a binary password as a Node
 * Buffer over the same bytes, which mqtt.js sends as they are. Elsewhere its UTF-8 text.
 */
export function bufferPassword(password: Uint8Array): string | Uint8Array {
  const { Buffer, process } = globalThis as {
    Buffer?: NodeBuffer;
    process?: { versions?: { node?: unknown } };
  };
  if (!Buffer || typeof process?.versions?.node !== "string") return utf8Password(password);
  return Buffer.from(password.buffer, password.byteOffset, password.byteLength);
}
