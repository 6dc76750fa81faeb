/**
 * Decoding and checking client frames. Everything from a socket is hostile until checked here:
 * a frame that is not a JSON object is a protocol error (the connection closes), an unknown
 * `type` is `unsupported` and a bad field is `invalid_argument` naming the field (the
 * connection stays).
 */
import { validateFilter, validateTopic } from "gmq";
import type { ClientFrame, StreamPosition, WireErrorCode } from "./protocol.js";

export class FrameError extends Error {
  constructor(
    readonly code: WireErrorCode,
    message: string,
    readonly rid?: string | number,
    readonly field?: string,
  ) {
    super(message);
  }
}

type Raw = Record<string, unknown>;

const MAX_NAME = 256;
const MAX_HEADERS = 128;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const CLIENT_TYPES = new Set([
  "connect",
  "publish",
  "subscribe",
  "unsubscribe",
  "ack",
  "nack",
  "call",
  "handle",
  "unhandle",
  "response",
  "refresh",
  "ping",
  "pong",
]);

/** Parses one text frame. Throws FrameError `protocol` for anything that is not a frame. */
export function decodeFrame(text: string): ClientFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new FrameError("protocol", "a frame must be one JSON object");
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new FrameError("protocol", "a frame must be one JSON object");
  }
  const frame = raw as Raw;
  const rid = readRid(frame);
  if (typeof frame.type !== "string") throw new FrameError("protocol", "type: must be a string", rid, "type");
  if (!CLIENT_TYPES.has(frame.type)) {
    throw new FrameError("unsupported", `unknown frame type "${frame.type.slice(0, 64)}"`, rid, "type");
  }
  check(frame, rid);
  return frame as unknown as ClientFrame;
}

function readRid(frame: Raw): string | number | undefined {
  const rid = frame.rid;
  if (rid === undefined) return undefined;
  if (typeof rid === "string" && rid.length > 0 && rid.length <= 128) return rid;
  if (typeof rid === "number" && Number.isSafeInteger(rid) && rid >= 0) return rid;
  throw new FrameError(
    "invalid_argument",
    "rid: must be a string of 1-128 characters or an integer ≥ 0",
    undefined,
    "rid",
  );
}

function check(f: Raw, rid: string | number | undefined): void {
  const fail = (field: string, message: string): never => {
    throw new FrameError("invalid_argument", `${field}: ${message}`, rid, field);
  };
  const name = (field: string, required: boolean, max = MAX_NAME) => {
    const value = f[field];
    if (value === undefined && !required) return;
    if (typeof value !== "string" || value.length === 0 || value.length > max) {
      fail(field, `must be a string of 1-${max} characters`);
    }
  };
  const needRid = () => {
    if (rid === undefined) fail("rid", "is required");
  };
  const payload = () => {
    if (f.payload !== undefined && typeof f.payload !== "string") fail("payload", "must be a string");
    if (f.enc !== undefined) {
      if (f.enc !== "b64") fail("enc", 'must be "b64" or absent');
      const text = (f.payload as string | undefined) ?? "";
      if (text.length % 4 !== 0 || !BASE64.test(text))
        fail("payload", "must be standard base64 with enc b64");
    }
  };
  const headers = () => {
    const value = f.headers;
    if (value === undefined) return;
    if (typeof value !== "object" || value === null || Array.isArray(value))
      fail("headers", "must be an object");
    const entries = Object.entries(value as Raw);
    if (entries.length > MAX_HEADERS) fail("headers", `at most ${MAX_HEADERS} entries`);
    for (const [key, text] of entries)
      if (typeof text !== "string") fail(`headers.${key}`, "must be a string");
  };
  const integer = (field: string, required: boolean, min: number) => {
    const value = f[field];
    if (value === undefined && !required) return;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
      fail(field, `must be an integer ≥ ${min}`);
    }
  };
  const gmq = (run: () => void) => {
    try {
      run();
    } catch (error) {
      const field = (error as { field?: string }).field ?? "topic";
      fail(field, (error as Error).message.replace(/^[^:]*: /, ""));
    }
  };

  switch (f.type) {
    case "connect":
      name("token", false, 64 * 1024);
      name("clientId", false, 128);
      if (f.batch !== undefined && typeof f.batch !== "boolean") fail("batch", "must be a boolean");
      if (f.client !== undefined && (typeof f.client !== "object" || f.client === null)) {
        fail("client", "must be an object");
      }
      return;
    case "publish":
      gmq(() => validateTopic(f.topic, "topic"));
      name("id", false);
      name("replyTo", false, 1024);
      name("correlationId", false);
      payload();
      headers();
      if (f.qos !== undefined && f.qos !== 0 && f.qos !== 1) fail("qos", "must be 0 or 1");
      if (f.qos !== 0) needRid();
      integer("seq", false, 1);
      name("clientId", false, 128);
      return;
    case "subscribe":
      needRid();
      name("sub", true, 128);
      gmq(() => validateFilter(f.pattern, "pattern"));
      if ((f.pattern as string).startsWith("$share/")) fail("pattern", "use queue instead of $share/");
      name("queue", false, 128);
      if (f.ack !== undefined && f.ack !== "auto" && f.ack !== "manual")
        fail("ack", 'must be "auto" or "manual"');
      integer("maxInFlight", false, 1);
      if (f.recover !== undefined) readPosition(f.recover, fail);
      return;
    case "unsubscribe":
      needRid();
      name("sub", true, 128);
      return;
    case "ack":
      integer("tag", f.tags === undefined, 1);
      if (
        f.tags !== undefined &&
        (!Array.isArray(f.tags) || !f.tags.every((t) => Number.isSafeInteger(t) && t >= 1))
      )
        fail("tags", "must be an array of integers ≥ 1");
      return;
    case "nack":
      integer("tag", true, 1);
      if (f.requeue !== undefined && typeof f.requeue !== "boolean") fail("requeue", "must be a boolean");
      return;
    case "call":
      needRid();
      name("service", true);
      name("method", true);
      payload();
      headers();
      integer("timeoutMs", false, 1);
      return;
    case "handle":
    case "unhandle":
      needRid();
      name("service", true);
      name("method", true);
      return;
    case "response":
      name("req", true, 128);
      payload();
      headers();
      if (f.error !== undefined && (typeof f.error !== "object" || f.error === null))
        fail("error", "must be an object");
      return;
    case "refresh":
      needRid();
      name("token", true, 64 * 1024);
      return;
    default:
      return;
  }
}

function readPosition(value: unknown, fail: (field: string, message: string) => never): StreamPosition {
  const position = value as Partial<StreamPosition> | null;
  if (typeof position !== "object" || position === null) fail("recover", "must be {epoch, offset}");
  if (typeof position!.epoch !== "string" || position!.epoch.length > 128) {
    fail("recover.epoch", "must be a string of at most 128 characters");
  }
  const offset = position!.offset;
  if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
    fail("recover.offset", "must be an integer ≥ 0");
  }
  return position as StreamPosition;
}
