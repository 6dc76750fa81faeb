/**
 * The options of the `mqtt()` factory, their validation, and the capabilities they imply.
 */
import { GmqError, type TransportCapabilities } from "gmq";
import type { PlatformParts } from "./connection.js";
import { toWire } from "./credentials.js";

export type MqttProtocolVersion = "auto" | 5 | 4;

export interface MqttCredentials {
  username?: string;
  password?: string | Uint8Array;
}

export interface MqttOptions {
  /**
   * `mqtt://`, `mqtts://`, `ws://` or `wss://` (only `ws`/`wss` in a browser). With a list, a
   * failed connect moves on to the next URL for the next attempt; the one that worked is kept.
   */
  url: string | readonly string[];
  /**
   * `"auto"` (default) offers MQTT 5 and falls back to 3.1.1 when the broker refuses the version,
   * remembering that per URL. Without `envelope`, a 3.1.1-only broker is then refused with
   * `unsupported`, because 3.1.1 cannot carry gmq ids, headers and replies: set `envelope: true`
   * (gmq-to-gmq traffic) or `protocolVersion: 4` (plain MQTT, no headers, no calls).
   */
  protocolVersion?: MqttProtocolVersion;
  /**
   * On MQTT 3.1.1, wrap every message in a JSON envelope carrying the gmq id, headers, replyTo and
   * correlationId (payload base64). Only gmq peers understand it. Received envelopes are unwrapped
   * on any version, so 3.1.1 and 5 gmq clients can share a broker. Default false.
   */
  envelope?: boolean;
  /** Default `gmq_` + 16 hex digits, fixed for the life of the transport (so sessions resume). */
  clientId?: string;
  username?: string;
  /** Needs `username` (MQTT sends a password only with one; `""` will do). Any bytes in Node; in
   *  a browser a Uint8Array must be valid UTF-8 (mqtt.js's browser build sends only text). */
  password?: string | Uint8Array;
  /** Called at every (re)connect; overrides `username`/`password`. For expiring tokens. */
  credentials?: () => Promise<MqttCredentials> | MqttCredentials;
  /** Seconds between pings; 0 turns keepalive off. Default 30. */
  keepalive?: number;
  /** Start a fresh session at every connect. Default true. `false` keeps subscriptions and
   *  unacknowledged messages at the broker across reconnects (needs a fixed `clientId`). */
  clean?: boolean;
  /** MQTT 5 session expiry in seconds. Default: 0 with `clean`, never (0xFFFFFFFF) without,
   *  like a 3.1.1 persistent session. */
  sessionExpiryInterval?: number;
  /** The broker supports `$share/<group>/<filter>` (Mosquitto, EMQX, HiveMQ…). Default true;
   *  set false for brokers without (aedes, NATS) so queue subscriptions fail early. */
  sharedSubscriptions?: boolean;
  /** Per attempt, until CONNACK. Default 10 000 ms (the client's connect timeout also applies). */
  connectTimeoutMs?: number;
  /** How long a nacked (requeue) message waits before it is handed back. Default 50 ms. */
  redeliveryDelayMs?: number;
  /** The largest packet accepted from the broker, in bytes. Default 16 MiB. Sent as MQTT 5
   *  Maximum Packet Size; on 3.1.1 (and from a broker that ignores it) a larger packet is a
   *  `protocol` error, refused from its header before its body is read, and the connection is
   *  dropped. */
  maxPacketBytes?: number;
  /** TLS (Node only): passed to `tls.connect`. */
  ca?: string | Uint8Array | readonly (string | Uint8Array)[];
  cert?: string | Uint8Array | readonly (string | Uint8Array)[];
  key?: string | Uint8Array | readonly (string | Uint8Array)[];
  rejectUnauthorized?: boolean;
}

export interface ResolvedOptions {
  readonly urls: readonly string[];
  readonly protocolVersion: MqttProtocolVersion;
  readonly envelope: boolean;
  readonly clientId: string;
  readonly keepalive: number;
  readonly clean: boolean;
  readonly sessionExpiryInterval: number;
  readonly sharedSubscriptions: boolean;
  readonly connectTimeoutMs: number;
  readonly redeliveryDelayMs: number;
  readonly maxPacketBytes: number;
  readonly credentials: () => Promise<MqttCredentials>;
  /** The app passed a `credentials()` provider, which may have new credentials after a refusal. */
  readonly credentialsProvider: boolean;
  /** Node only. */
  readonly tls?: Pick<MqttOptions, "ca" | "cert" | "key" | "rejectUnauthorized">;
}

const SCHEMES = /^(mqtts?|wss?):$/;
/** The MQTT maximum: a 4-byte remaining length (268,435,455) plus the 5-byte fixed header. */
const MAX_PACKET_BYTES = 268_435_460;

/**
 * Node (and Deno/Bun, which emulate it) can open TCP sockets; a browser or worker cannot. Node
 * only (its entry passes this): mqtt.js's browser build has no TCP anywhere.
 */
export function hasTcp(): boolean {
  const process = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  return typeof process?.versions?.node === "string";
}

function randomClientId(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return `gmq_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** An integer option in min..max, or absent. */
function checkInteger(value: unknown, field: string, max = Number.MAX_SAFE_INTEGER, min = 0): void {
  if (
    value !== undefined &&
    !(Number.isInteger(value) && (value as number) >= min && (value as number) <= max)
  ) {
    throw GmqError.invalid(field, `must be an integer from ${min} to ${max}`);
  }
}

/** The options among `keys` that are set (absent rather than undefined, as mqtt.js wants them). */
const given = <K extends keyof MqttOptions>(options: MqttOptions, keys: readonly K[]) =>
  Object.fromEntries(
    keys.filter((key) => options[key] !== undefined).map((key) => [key, options[key]]),
  ) as Pick<MqttOptions, K>;

/** Node only (its entry passes this): the TLS options, for `tls.connect`. */
export const tlsOptions = (options: MqttOptions) =>
  given(options, ["ca", "cert", "key", "rejectUnauthorized"]);

/** `platform`: whether TCP URLs work, how a binary password is sent (see `toWire`), and whether
 *  TLS options apply. */
export function resolveOptions(options: MqttOptions, platform: PlatformParts = {}): ResolvedOptions {
  if (typeof options !== "object" || options === null) throw GmqError.invalid("options", "must be an object");
  const urls = [options.url].flat();
  if (urls.length === 0) throw GmqError.invalid("url", "must be a URL or a non-empty list of URLs");
  const tcp = platform.hasTcp?.();
  for (const url of urls) {
    let scheme = "";
    try {
      scheme = new URL(url).protocol;
    } catch {}
    if (!SCHEMES.test(scheme)) {
      throw GmqError.invalid("url", `must be an mqtt://, mqtts://, ws:// or wss:// URL, not "${url}"`);
    }
    if (!tcp && scheme.startsWith("mqtt")) {
      throw new GmqError(
        "unsupported",
        `url: a browser cannot open TCP connections; use ws:// or wss:// (got "${url}")`,
        { field: "url" },
      );
    }
  }
  const version = options.protocolVersion ?? "auto";
  if (version !== "auto" && version !== 5 && version !== 4)
    throw GmqError.invalid("protocolVersion", 'must be "auto", 5 or 4');
  if (options.clientId !== undefined && (typeof options.clientId !== "string" || options.clientId === "")) {
    throw GmqError.invalid("clientId", "must be a non-empty string");
  }
  if (options.credentials !== undefined && typeof options.credentials !== "function") {
    throw GmqError.invalid("credentials", "must be a function");
  }
  checkInteger(options.keepalive, "keepalive", 65_535);
  checkInteger(options.sessionExpiryInterval, "sessionExpiryInterval", 0xffff_ffff);
  checkInteger(options.connectTimeoutMs, "connectTimeoutMs");
  checkInteger(options.redeliveryDelayMs, "redeliveryDelayMs");
  checkInteger(options.maxPacketBytes, "maxPacketBytes", MAX_PACKET_BYTES, 64);
  const clean = options.clean ?? true;
  const fixed: MqttCredentials = { username: options.username, password: options.password };
  // Without credentials() these are final: what cannot be sent (a password without a username, in
  // a browser a binary one that is not UTF-8) fails now, not at every connect.
  const credentials = options.credentials;
  if (!credentials) toWire(fixed, platform.bufferPassword);
  return {
    urls,
    protocolVersion: version,
    envelope: options.envelope ?? false,
    clientId: options.clientId ?? randomClientId(),
    keepalive: options.keepalive ?? 30,
    clean,
    sessionExpiryInterval: options.sessionExpiryInterval ?? (clean ? 0 : 0xffff_ffff),
    sharedSubscriptions: options.sharedSubscriptions ?? true,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    redeliveryDelayMs: options.redeliveryDelayMs ?? 50,
    maxPacketBytes: options.maxPacketBytes ?? 16 * 1024 * 1024,
    credentials: credentials ? async () => ({ ...fixed, ...(await credentials()) }) : async () => fixed,
    credentialsProvider: credentials !== undefined,
    tls: platform.tlsOptions?.(options),
  };
}

/**
 * Decided before connecting, from the options alone: ids and headers travel when MQTT 5 is
 * required or possible ("auto" refuses a 3.1.1-only broker unless `envelope` is on), or when the
 * envelope carries them on 3.1.1.
 */
export function capabilitiesOf(options: ResolvedOptions): TransportCapabilities {
  return {
    connection: "link",
    inbound: "routed",
    wildcards: true,
    requestReply: false,
    ack: true,
    delay: false,
    binary: true,
    queues: options.sharedSubscriptions,
    headers: options.envelope || options.protocolVersion !== 4,
    retain: true,
  };
}
