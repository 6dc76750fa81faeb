/**
 * The MQTT transport: picks the URL (failover), negotiates the protocol version, fetches
 * credentials, and hands each live connection's traffic to the core.
 */
import { GmqError, type SubscribeRequest, type Transport, type TransportSink, topicMatches } from "gmq";
// Default import: mqtt's browser ESM build has no named exports.
import mqttjs from "mqtt";
import { MqttConnection, type PlatformParts } from "./connection.js";
import { toWire, type WireCredentials } from "./credentials.js";
import { isVersionRefusal } from "./errors.js";
import { capabilitiesOf, type MqttCredentials, type MqttOptions, resolveOptions } from "./options.js";
import { MQTT_REASONS } from "./reasons.js";

const subscriptionKey = (request: SubscribeRequest) => `${request.queue ?? ""}\u0000${request.pattern}`;

/**
 * QoS 2 messages awaiting PUBREL, kept across the connections of a persistent session, so a
 * PUBREL resent after a reconnect still finds its message. mqtt.js closes its store on `end()`;
 * one made with `clean: false` keeps its messages when closed.
 */
const sessionStore = () => new mqttjs.Store({ clean: false });

const notConnected = () => new GmqError("disconnected", "not connected to the MQTT broker");

function sameCredentials(a: MqttCredentials, b: MqttCredentials | undefined): boolean {
  if (!b || a.username !== b.username) return false;
  const [x, y] = [a.password, b.password];
  if (typeof x === "string" || typeof y === "string" || x === undefined || y === undefined) return x === y;
  return x.length === y.length && x.every((byte, i) => byte === y[i]);
}

/** An MQTT 3.1.1/5 transport over TCP, TLS, WebSocket or secure WebSocket. */
export function createMqtt(mqttOptions: MqttOptions, platform: PlatformParts): Transport {
  const options = resolveOptions(mqttOptions, platform);
  const capabilities = capabilitiesOf(options);
  let urlIndex = 0;
  /** Versions learned per URL ("auto" fell back to 3.1.1 there). */
  const versions = new Map<string, 4 | 5>();
  const subscriptions = new Map<string, SubscribeRequest>();
  let manualSubscriptions = 0;
  const qos2Store = sessionStore();
  let connection: MqttConnection | undefined;
  /** The credentials of the last attempt, and fresh ones fetched after a refusal. */
  let lastCredentials: MqttCredentials | undefined;
  let freshCredentials: MqttCredentials | undefined;

  const live = (): MqttConnection => {
    if (!connection?.alive) throw notConnected();
    return connection;
  };

  const needsEnvelope = (url: string, cause?: unknown): GmqError =>
    new GmqError(
      "unsupported",
      `the broker at ${url} speaks only MQTT 3.1.1, which cannot carry gmq ids, headers and replies: ` +
        "set `envelope: true` (gmq peers only) or `protocolVersion: 4` (plain MQTT, no headers)",
      { cause, field: "protocolVersion" },
    );

  async function fetchCredentials(): Promise<WireCredentials> {
    let credentials: MqttCredentials;
    try {
      credentials = await options.credentials();
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
    return toWire(credentials, platform.bufferPassword);
  }

  /**
   * A QoS ≥ 1 message waits for the app when a manual-ack subscription matches it, and, with a
   * persistent session, when no subscription is known yet: a resumed session redelivers right
   * after CONNACK, before the core has restored the subscription that asked for manual acks.
   */
  function needsAck(topic: string): boolean {
    if (manualSubscriptions === 0 && options.clean) return false;
    let matched = false;
    for (const request of subscriptions.values()) {
      if (!topicMatches(request.pattern, topic)) continue;
      if (request.manualAck) return true;
      matched = true;
    }
    return !matched && !options.clean;
  }

  /** Forgets the subscription of `request`'s key; remembers `request` unless told not to. */
  function remember(request: SubscribeRequest, keep = true): void {
    const key = subscriptionKey(request);
    if (subscriptions.get(key)?.manualAck) manualSubscriptions--;
    subscriptions.delete(key);
    if (!keep) return;
    subscriptions.set(key, request);
    if (request.manualAck) manualSubscriptions++;
  }

  async function openWith(
    url: string,
    version: 4 | 5,
    credentials: WireCredentials,
    sink: TransportSink,
    signal: AbortSignal,
  ): Promise<MqttConnection> {
    if (version === 4 && !options.envelope && capabilities.headers) throw needsEnvelope(url);
    const opened: MqttConnection = await MqttConnection.open({
      url,
      version,
      options,
      credentials,
      incomingStore: options.clean ? undefined : qos2Store,
      signal,
      needsAck,
      platform,
      sink,
      closed: (error) => {
        if (connection === opened) connection = undefined;
        sink.onDisconnect(error);
      },
    });
    // A session that was not resumed has nothing to release: the store takes a fresh one's state.
    if (!opened.sessionPresent) Object.assign(qos2Store, sessionStore());
    return opened;
  }

  async function open(url: string, sink: TransportSink, signal: AbortSignal): Promise<MqttConnection> {
    const credentials = freshCredentials ?? (await fetchCredentials());
    freshCredentials = undefined;
    lastCredentials = credentials;
    const preferred = options.protocolVersion;
    const version = preferred === "auto" ? (versions.get(url) ?? 5) : preferred;
    try {
      return await openWith(url, version, credentials, sink, signal);
    } catch (error) {
      if (preferred !== "auto" || version !== 5 || !isVersionRefusal(error) || signal.aborted) throw error;
      versions.set(url, 4);
      if (!options.envelope) throw needsEnvelope(url, error);
      return await openWith(url, 4, credentials, sink, signal);
    }
  }

  const transport: Transport & { readonly url: string } = {
    name: "mqtt",
    capabilities,
    // MQTT topic grammar is the core's default; `$share/<group>/` names a queue group.
    naming: { sharedPrefix: true },

    /** The URL this transport uses now (for logs and tests). */
    get url(): string {
      return options.urls[urlIndex]!;
    },

    async connect(sink, { signal }) {
      connection?.destroy();
      connection = undefined;
      try {
        connection = await open(options.urls[urlIndex]!, sink, signal);
      } catch (error) {
        // The next attempt tries the next URL; a URL that works is kept.
        urlIndex = (urlIndex + 1) % options.urls.length;
        throw GmqError.from(error, "disconnected");
      }
    },

    async disconnect() {
      const closing = connection;
      connection = undefined;
      await closing?.close();
    },

    publish: (message, { signal }) => connection?.publish(message, signal) ?? Promise.reject(notConnected()),

    async subscribe(request, { signal }) {
      const current = live();
      remember(request);
      await current.subscribe(request, signal);
    },

    async unsubscribe(request, { signal }) {
      remember(request, false);
      await live().unsubscribe(request, signal);
    },

    /**
     * After a permanent failure: retry only when the app's credentials provider failed (ask it
     * again later) or now has credentials other than the refused ones (used for the next attempt).
     */
    async shouldRetry(error) {
      if (!options.credentialsProvider) return false;
      if (error.reason === MQTT_REASONS.CREDENTIALS_FAILED) return true;
      if (error.code !== "unauthenticated") return false;
      let next: MqttCredentials;
      try {
        next = await options.credentials();
      } catch {
        return true;
      }
      if (sameCredentials(next, lastCredentials)) return false;
      freshCredentials = next;
      return true;
    },
  };
  return transport;
}
