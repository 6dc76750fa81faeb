import { GmqError } from "gmq";
import { envelopeDecoder, type ReplyDecoder } from "./reply.js";

export interface MqantOptions {
  /** `ws(s)://host:3653/mqtt` (browser and Node) or `mqtt(s)://host:3563` / `tcp://` (Node). A
   *  list fails over in order. */
  url: string | readonly string[];
  /** MQTT level: "3.1.1" (default; WebSocket subprotocol `mqtt`) or "3.1" (`mqttv3.1`, as the
   *  demo page). Never 5: the gate cannot parse it. */
  protocol?: "3.1.1" | "3.1";
  /** 1–64 bytes; default `mqant_` + 12 hex. */
  clientId?: string;
  /** 1–30 s (default 30): a ping must land well inside the gate's idle deadline. */
  keepaliveSeconds?: number;
  /** Requests (and notifies) in flight per connection, 1–20; default 16, below the gate's 20. */
  maxInFlight?: number;
  /** Decodes a reply; default the `{Trace, Error, Result}` envelope. Use `rawDecoder` for gates
   *  whose handlers return ProtocolMarshal values. */
  replyDecoder?: ReplyDecoder;
  /** Builds the request topic; default `Module/HD_handler/msgid` (custom routers differ). */
  topic?: (module: string, handler: string, msgid: string) => string;
  /** The gate's MaxPackSize, for what we send and what we accept; default 65535. A larger packet
   *  from the gate is a `protocol` error and the connection is dropped. */
  maxPacketBytes?: number;
}

export interface ResolvedOptions {
  urls: readonly string[];
  protocol: "3.1.1" | "3.1";
  clientId: string;
  keepaliveSeconds: number;
  maxInFlight: number;
  replyDecoder: ReplyDecoder;
  topic: (module: string, handler: string, msgid: string) => string;
  maxPacketBytes: number;
}

const isBrowser = typeof (globalThis as { document?: unknown }).document !== "undefined";

function randomHex(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(length / 2)));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0"))
    .join("")
    .slice(0, length);
}

function integer(value: unknown, field: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw GmqError.invalid(field, `must be an integer from ${min} to ${max}`);
  }
  return value as number;
}

export function resolveOptions(options: MqantOptions): ResolvedOptions {
  if (typeof options !== "object" || options === null) throw GmqError.invalid("options", "must be an object");
  const urls = typeof options.url === "string" ? [options.url] : options.url;
  if (!Array.isArray(urls) || urls.length === 0)
    throw GmqError.invalid("url", "must be a URL or a non-empty list");
  for (const url of urls) {
    const scheme = typeof url === "string" ? /^([a-z]+):\/\//.exec(url)?.[1] : undefined;
    if (!scheme || !["ws", "wss", "mqtt", "mqtts", "tcp", "ssl"].includes(scheme)) {
      throw GmqError.invalid(
        "url",
        `must be ws://, wss://, mqtt://, mqtts:// or tcp://, got "${String(url)}"`,
      );
    }
    if (isBrowser && !scheme.startsWith("ws")) {
      throw new GmqError(
        "unsupported",
        `url: a browser can only reach the gate over ws:// or wss://, got "${url}"`,
      );
    }
  }
  if (options.protocol !== undefined && options.protocol !== "3.1.1" && options.protocol !== "3.1") {
    throw GmqError.invalid("protocol", 'must be "3.1.1" or "3.1" (the gate cannot speak MQTT 5)');
  }
  const clientId = options.clientId ?? `mqant_${randomHex(12)}`;
  const idBytes = new TextEncoder().encode(clientId).byteLength;
  if (typeof clientId !== "string" || idBytes < 1 || idBytes > 64) {
    throw GmqError.invalid("clientId", "must be 1 to 64 bytes (the gate drops other ids silently)");
  }
  for (const field of ["replyDecoder", "topic"] as const) {
    if (options[field] !== undefined && typeof options[field] !== "function") {
      throw GmqError.invalid(field, "must be a function");
    }
  }
  return {
    urls,
    protocol: options.protocol ?? "3.1.1",
    clientId,
    keepaliveSeconds: integer(options.keepaliveSeconds, "keepaliveSeconds", 1, 30, 30),
    maxInFlight: integer(options.maxInFlight, "maxInFlight", 1, 20, 16),
    replyDecoder: options.replyDecoder ?? envelopeDecoder,
    topic: options.topic ?? ((module, handler, msgid) => `${module}/${handler}/${msgid}`),
    maxPacketBytes: integer(options.maxPacketBytes, "maxPacketBytes", 64, 268_435_455, 65_535),
  };
}
