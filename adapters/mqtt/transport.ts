/**
 * The MQTT transport: picks the URL (failover), negotiates the protocol version, fetches
 * credentials, and hands each live connection's traffic to the core.
 */
import {
  GmqError,
  type OperationOptions,
  type OutboundMessage,
  type SubscribeRequest,
  type Transport,
  type TransportCapabilities,
  type TransportNaming,
  type TransportSink,
  type TransportSubscribeOptions,
  topicMatches,
} from "gmq";
// Default import: mqtt's browser ESM build has no named exports.
import mqttjs, { type IStore, type Packet } from "mqtt";
import { MqttConnection, type PlatformParts } from "./connection.js";
import { toWire, type WireCredentials } from "./credentials.js";
import { isVersionRefusal } from "./errors.js";
import {
  capabilitiesOf,
  type MqttCredentials,
  type MqttOptions,
  type ResolvedOptions,
  resolveOptions,
} from "./options.js";
import { MQTT_REASONS } from "./reasons.js";

const subscriptionKey = (request: SubscribeRequest) => `${request.queue ?? ""}\u0000${request.pattern}`;

/**
 * QoS 2 messages awaiting PUBREL, kept across the connections of a persistent session, so a
 * PUBREL resent after a reconnect still finds its message. mqtt.js closes its store on `end()`;
 * this view keeps the shared one open.
 */
function sessionStore(): IStore {
  let store = new mqttjs.Store();
  return {
    put(packet: Packet, cb: () => void) {
      store.put(packet, cb);
      return this;
    },
    get(packet: Pick<Packet, "messageId">, cb: (error?: Error, packet?: Packet) => void) {
      store.get(packet, cb);
      return this;
    },
    del(packet: Pick<Packet, "messageId">, cb: (error?: Error, packet?: Packet) => void) {
      store.del(packet, cb);
      return this;
    },
    createStream: () => store.createStream(),
    close(cb: () => void) {
      cb();
    },
    /** A session that was not resumed has nothing to release. */
    reset() {
      store = new mqttjs.Store();
    },
  } as IStore & { reset(): void };
}

const notConnected = () => new GmqError("disconnected", "not connected to the MQTT broker");

class MqttTransport implements Transport {
  readonly name = "mqtt";
  readonly capabilities: TransportCapabilities;
  readonly naming: TransportNaming;
  readonly #options: ResolvedOptions;
  #urlIndex = 0;
  /** Versions learned per URL ("auto" fell back to 3.1.1 there). */
  readonly #versions = new Map<string, 4 | 5>();
  readonly #subscriptions = new Map<string, SubscribeRequest>();
  #manualSubscriptions = 0;
  readonly #qos2Store = sessionStore() as IStore & { reset(): void };
  #connection: MqttConnection | undefined;
  /** The credentials of the last attempt, and fresh ones fetched after a refusal. */
  #lastCredentials: MqttCredentials | undefined;
  #freshCredentials: MqttCredentials | undefined;

  readonly #platform: PlatformParts;

  constructor(options: MqttOptions, platform: PlatformParts) {
    this.#platform = platform;
    this.#options = resolveOptions(options);
    this.capabilities = capabilitiesOf(this.#options);
    // MQTT topic grammar is the core's default; `$share/<group>/` names a queue group.
    this.naming = { sharedPrefix: true };
  }

  /** The URL this transport uses now (for logs and tests). */
  get url(): string {
    return this.#options.urls[this.#urlIndex]!;
  }

  async connect(sink: TransportSink, { signal }: OperationOptions): Promise<void> {
    this.#connection?.destroy();
    this.#connection = undefined;
    const url = this.url;
    try {
      this.#connection = await this.#open(url, sink, signal);
    } catch (error) {
      // The next attempt tries the next URL; a URL that works is kept.
      this.#urlIndex = (this.#urlIndex + 1) % this.#options.urls.length;
      throw GmqError.from(error, "disconnected");
    }
  }

  async disconnect(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    await connection?.close();
  }

  publish(message: OutboundMessage, { signal }: OperationOptions): Promise<void> {
    const connection = this.#connection;
    if (!connection) return Promise.reject(notConnected());
    return connection.publish(message, signal);
  }

  async subscribe(request: SubscribeRequest, { signal }: TransportSubscribeOptions): Promise<void> {
    const connection = this.#live();
    this.#remember(request);
    await connection.subscribe(request, signal);
  }

  async unsubscribe(request: SubscribeRequest, { signal }: OperationOptions): Promise<void> {
    this.#forget(request);
    await this.#live().unsubscribe(request, signal);
  }

  #live(): MqttConnection {
    if (!this.#connection?.alive) throw notConnected();
    return this.#connection;
  }

  /**
   * After a permanent failure: retry only when the app's credentials provider failed (ask it
   * again later) or now has credentials other than the refused ones (used for the next attempt).
   */
  async shouldRetry(error: GmqError): Promise<boolean> {
    if (!this.#options.credentialsProvider) return false;
    if (error.reason === MQTT_REASONS.CREDENTIALS_FAILED) return true;
    if (error.code !== "unauthenticated") return false;
    let next: MqttCredentials;
    try {
      next = await this.#options.credentials();
    } catch {
      return true;
    }
    if (sameCredentials(next, this.#lastCredentials)) return false;
    this.#freshCredentials = next;
    return true;
  }

  async #open(url: string, sink: TransportSink, signal: AbortSignal): Promise<MqttConnection> {
    const credentials = this.#freshCredentials ?? (await this.#credentials());
    this.#freshCredentials = undefined;
    this.#lastCredentials = credentials;
    const preferred = this.#options.protocolVersion;
    const version = preferred === "auto" ? (this.#versions.get(url) ?? 5) : preferred;
    try {
      return await this.#openWith(url, version, credentials, sink, signal);
    } catch (error) {
      if (preferred !== "auto" || version !== 5 || !isVersionRefusal(error) || signal.aborted) throw error;
      this.#versions.set(url, 4);
      if (!this.#options.envelope) throw this.#needsEnvelope(url, error);
      return await this.#openWith(url, 4, credentials, sink, signal);
    }
  }

  async #openWith(
    url: string,
    version: 4 | 5,
    credentials: WireCredentials,
    sink: TransportSink,
    signal: AbortSignal,
  ): Promise<MqttConnection> {
    if (version === 4 && !this.#options.envelope && this.capabilities.headers) throw this.#needsEnvelope(url);
    const connection: MqttConnection = await MqttConnection.open({
      url,
      version,
      options: this.#options,
      credentials,
      ...(!this.#options.clean && { incomingStore: this.#qos2Store }),
      signal,
      needsAck: (topic) => this.#needsAck(topic),
      platform: this.#platform,
      events: {
        message: (message) => sink.onMessage(message),
        error: (error) => sink.onError(error),
        closed: (error) => {
          if (this.#connection === connection) this.#connection = undefined;
          sink.onDisconnect(error);
        },
      },
    });
    if (!connection.sessionPresent) this.#qos2Store.reset();
    return connection;
  }

  #needsEnvelope(url: string, cause?: unknown): GmqError {
    return new GmqError(
      "unsupported",
      `the broker at ${url} speaks only MQTT 3.1.1, which cannot carry gmq ids, headers and replies: ` +
        "set `envelope: true` (gmq peers only) or `protocolVersion: 4` (plain MQTT, no headers)",
      { cause, field: "protocolVersion" },
    );
  }

  async #credentials(): Promise<WireCredentials> {
    let credentials: MqttCredentials;
    try {
      credentials = await this.#options.credentials();
    } catch (error) {
      throw new GmqError(
        "unauthenticated",
        `credentials() failed: ${(error as Error)?.message ?? String(error)}`,
        {
          cause: error,
          reason: "CREDENTIALS_FAILED",
        },
      );
    }
    return toWire(credentials);
  }

  /**
   * A QoS ≥ 1 message waits for the app when a manual-ack subscription matches it, and, with a
   * persistent session, when no subscription is known yet: a resumed session redelivers right
   * after CONNACK, before the core has restored the subscription that asked for manual acks.
   */
  #needsAck(topic: string): boolean {
    if (this.#manualSubscriptions === 0 && this.#options.clean) return false;
    let matched = false;
    for (const request of this.#subscriptions.values()) {
      if (!topicMatches(request.pattern, topic)) continue;
      if (request.manualAck) return true;
      matched = true;
    }
    return !matched && !this.#options.clean;
  }

  #remember(request: SubscribeRequest): void {
    const key = subscriptionKey(request);
    const previous = this.#subscriptions.get(key);
    if (previous?.manualAck) this.#manualSubscriptions--;
    this.#subscriptions.set(key, request);
    if (request.manualAck) this.#manualSubscriptions++;
  }

  #forget(request: SubscribeRequest): void {
    const key = subscriptionKey(request);
    const previous = this.#subscriptions.get(key);
    if (!previous) return;
    this.#subscriptions.delete(key);
    if (previous.manualAck) this.#manualSubscriptions--;
  }
}

function sameCredentials(a: MqttCredentials, b: MqttCredentials | undefined): boolean {
  if (!b || a.username !== b.username) return false;
  const [x, y] = [a.password, b.password];
  if (typeof x === "string" || typeof y === "string" || x === undefined || y === undefined) return x === y;
  return x.length === y.length && x.every((byte, i) => byte === y[i]);
}

/** An MQTT 3.1.1/5 transport over TCP, TLS, WebSocket or secure WebSocket. */
export function createMqtt(options: MqttOptions, platform: PlatformParts): Transport {
  return new MqttTransport(options, platform);
}
