import {
  type CallRequest,
  type CallResponse,
  GmqError,
  type OperationOptions,
  type OutboundMessage,
  type Transport,
  type TransportNaming,
  type TransportSink,
} from "gmq";
import mqttjs, { type MqttClient } from "mqtt";
// The same packet-boundary reader as gmq/mqtt (bundled into this entry; no runtime coupling).
import { frameTracker } from "../mqtt/frames.js";
import { InFlightLimiter } from "./limiter.js";
import { type MqantOptions, resolveOptions } from "./options.js";
import { MQANT_REASONS } from "./reasons.js";
import { decodeReply, gateError, resultBytes } from "./reply.js";

const encoder = new TextEncoder();
const EMPTY_ARGS = encoder.encode("{}");
const JSON_NULL = "null";
/** Late replies to abandoned requests are recognised (and dropped) among this many topics. */
const ABANDONED_MEMORY = 1024;

/** Gate names: a request topic is `Module/HD_handler/msgid`, a notify `Module/HD_handler`. */
const MQANT_NAMING: TransportNaming = {
  topic: (topic) => {
    const parts = topic.split("/");
    return parts.length === 2 && parts[0] !== "" && parts[1]!.startsWith("HD_")
      ? undefined
      : `an mqant notify is "Module/HD_handler", got "${topic}"`;
  },
  service: (module) => (module.includes("/") ? `a module name has no "/", got "${module}"` : undefined),
  method: (handler) =>
    handler.startsWith("HD_") && !handler.includes("/")
      ? undefined
      : `mqant handlers begin with "HD_" and have no "/", got "${handler}"`,
};

/**
 * The mqant gate adapter: MQTT 3.1/3.1.1 without SUBSCRIBE. A call is a QoS 0 PUBLISH on
 * `Module/HD_handler/<msgid>` whose reply comes back on the identical topic; every other inbound
 * PUBLISH is a server push, matched locally by the core.
 */
export function mqant(options: MqantOptions): Transport {
  const config = resolveOptions(options);
  let client: MqttClient | undefined;
  let urlIndex = 0;
  let msgid = 0; // never reset: a topic is never reused, even across reconnects
  let limiter = new InFlightLimiter(config.maxInFlight);
  const pending = new Map<string, { resolve(payload: Uint8Array): void; reject(error: GmqError): void }>();
  const abandoned = new Set<string>();
  const unsettledPublishes = new Set<(error: GmqError) => void>();

  const live = (): MqttClient => {
    if (!client?.connected) throw new GmqError("disconnected", "not connected to the mqant gate");
    return client;
  };

  const forget = (topic: string): void => {
    abandoned.add(topic);
    if (abandoned.size > ABANDONED_MEMORY) abandoned.delete(abandoned.values().next().value as string);
  };

  /** Nothing sent on a dead connection can be answered: fail it all at once. */
  const failEverything = (error: GmqError): void => {
    for (const [topic, entry] of pending) {
      forget(topic);
      entry.reject(error);
    }
    pending.clear();
    for (const reject of unsettledPublishes) reject(error);
    unsettledPublishes.clear();
    limiter = new InFlightLimiter(config.maxInFlight);
  };

  const write = (target: MqttClient, topic: string, payload: Uint8Array, qos: 0 | 1): Promise<void> => {
    if (encoder.encode(topic).byteLength + payload.byteLength + 4 > config.maxPacketBytes) {
      return Promise.reject(
        new GmqError(
          "payload_too_large",
          `payload: topic + payload exceed the gate's ${config.maxPacketBytes} bytes`,
          {
            field: "payload",
            reason: MQANT_REASONS.PAYLOAD_TOO_LARGE,
          },
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const fail = (error: GmqError) => {
        unsettledPublishes.delete(fail);
        reject(error);
      };
      unsettledPublishes.add(fail);
      target.publish(topic, payload as Buffer, { qos }, (error) => {
        unsettledPublishes.delete(fail);
        if (error) reject(GmqError.from(error, "disconnected"));
        else resolve();
      });
    });
  };

  const body = (payload: Uint8Array): Uint8Array =>
    payload.byteLength === 0 || (payload.byteLength === 4 && new TextDecoder().decode(payload) === JSON_NULL)
      ? EMPTY_ARGS // the gate needs a non-empty payload; `{}` is what the demo handlers expect
      : payload;

  return {
    name: "mqant",
    capabilities: {
      connection: "link",
      inbound: "push",
      wildcards: false,
      requestReply: true,
      ack: false,
      delay: false,
      binary: true,
      queues: false,
      headers: false,
      retain: false,
    },
    naming: MQANT_NAMING,

    connect(sink: TransportSink, { signal }: OperationOptions): Promise<void> {
      const url = config.urls[urlIndex % config.urls.length]!;
      return new Promise<void>((resolve, reject) => {
        let connected = false;
        let finished = false;
        const current = mqttjs.connect(url, {
          protocolId: config.protocol === "3.1" ? "MQIsdp" : "MQTT",
          protocolVersion: config.protocol === "3.1" ? 3 : 4,
          clientId: config.clientId,
          keepalive: config.keepaliveSeconds,
          clean: true,
          reconnectPeriod: 0, // the core reconnects, and runs the app's re-login first
          connectTimeout: 10_000,
          queueQoSZero: false, // nothing may leak into a new, logged-out gate session
          resubscribe: false,
        });
        client = current;
        // The gate's packet limit holds inbound too: refuse an oversize packet from its header,
        // before mqtt.js buffers its body, and drop the connection.
        const frames = frameTracker(config.maxPacketBytes, (bytes) => {
          const error = new GmqError(
            "protocol",
            `the gate sent a packet of ${bytes} bytes, over maxPacketBytes (${config.maxPacketBytes})`,
            { reason: MQANT_REASONS.PAYLOAD_TOO_LARGE, details: { bytes, limit: config.maxPacketBytes } },
          );
          if (connected) sink.onError(error);
          else fail(error);
          current.end(true);
          (current.stream as { destroy?: () => void }).destroy?.();
        });
        current.stream.prependListener("data", (chunk: Uint8Array) => frames.feed(chunk));
        const onAbort = () => {
          current.end(true);
          fail(GmqError.from(signal.reason));
        };
        const fail = (error: GmqError) => {
          if (finished) return;
          finished = true;
          signal.removeEventListener("abort", onAbort);
          urlIndex++; // fail over to the next URL on the next attempt
          reject(error);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        current.on("connect", () => {
          connected = true;
          finished = true;
          signal.removeEventListener("abort", onAbort);
          resolve();
        });
        current.on("message", (topic, payload) => {
          const bytes = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
          const waiter = pending.get(topic);
          if (waiter) {
            pending.delete(topic);
            waiter.resolve(bytes);
          } else if (!abandoned.delete(topic)) {
            sink.onMessage({ topic, payload: bytes, qos: 0 });
          }
        });
        current.on("error", (error) => {
          const failure = GmqError.from(error, "protocol");
          if (!connected) return fail(failure);
          sink.onError(failure);
          // A byte stream that failed to parse cannot be trusted again: drop it; the core
          // reconnects (and the app logs in again).
          current.end(true);
        });
        current.on("close", () => {
          if (!connected) {
            fail(new GmqError("disconnected", `the gate at ${url} closed the connection before CONNACK`));
            return;
          }
          if (client !== current) return;
          connected = false;
          client = undefined;
          const error = new GmqError("disconnected", "the mqant gate closed the connection (session reset)", {
            reason: MQANT_REASONS.DISCONNECTED,
          });
          failEverything(error);
          sink.onDisconnect(error);
        });
      });
    },

    async disconnect(): Promise<void> {
      const current = client;
      client = undefined;
      if (!current) return;
      failEverything(
        new GmqError("disconnected", "disconnected by the app", { reason: MQANT_REASONS.DISCONNECTED }),
      );
      // DISCONNECT, then close the socket ourselves (the gate ignores DISCONNECT); force it if a
      // dead network keeps the polite close from finishing.
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => current.end(true, {}, () => resolve()), 1_000);
        current.end(false, {}, () => {
          clearTimeout(force);
          resolve();
        });
      });
    },

    async publish(message: OutboundMessage, { signal }: OperationOptions): Promise<void> {
      const target = live();
      // Notifies hold a gate worker slot until forwarded, so they count against the cap too.
      const release = await limiter.acquire(signal);
      try {
        await write(target, message.topic, body(message.payload), message.qos === 0 ? 0 : 1);
      } finally {
        release();
      }
    },

    async call(request: CallRequest): Promise<CallResponse> {
      const { service, method, signal } = request;
      const target = live();
      const release = await limiter.acquire(signal);
      const topic = config.topic(service, method, String(++msgid));
      let onAbort: (() => void) | undefined;
      try {
        const reply = new Promise<Uint8Array>((resolve, reject) => {
          pending.set(topic, { resolve, reject });
          onAbort = () => {
            pending.delete(topic);
            forget(topic);
            reject(GmqError.from(signal.reason));
          };
          signal.addEventListener("abort", onAbort, { once: true });
        });
        reply.catch(() => {});
        await write(target, topic, body(request.payload), 0);
        const decoded = decodeReply(config.replyDecoder, topic, await reply);
        if (!decoded.ok) throw gateError(decoded.error, decoded);
        return { payload: resultBytes(decoded.result, request.headers?.["mqant-result"] === "bytes") };
      } finally {
        if (onAbort) signal.removeEventListener("abort", onAbort);
        if (pending.delete(topic)) forget(topic);
        release();
      }
    },
  };
}
