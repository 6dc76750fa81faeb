/**
 * An in-process broker with MQTT-style wildcards, queue groups, retained messages and manual
 * acks, plus fault injection (go offline, drop connections, end streams, deliver everything
 * twice). For users' own tests and for the core's; it runs in browsers too. Its transports come
 * in every shape the contract knows, so each core path can be tested without a network:
 * - `transport()`: keeps a link; routed subscriptions (like MQTT);
 * - `transport({ inbound: "stream" })`: keeps a link; each subscription is a pull stream that
 *   fetches only while the subscription has credit (like a queue's pop loop);
 * - `transport({ connection: "request" })`: request-only with pull streams (like gRPC-web).
 * It implements only the public Transport contract.
 */
import {
  GmqError,
  type InboundMessage,
  type OutboundMessage,
  type SubscribeRequest,
  type Transport,
  type TransportCapabilities,
  type TransportSink,
  topicMatches,
} from "gmq";
import { MemoryStream, type StreamHost, unreachable } from "./memory-stream.js";

interface Member {
  readonly connection: MemoryConnection;
  readonly request: SubscribeRequest;
}

interface MemoryConnection {
  readonly sink: TransportSink;
  readonly subscriptions: Map<string, SubscribeRequest>;
  /** Delivered with manual ack, not yet acked: handed to the next subscriber if this one dies. */
  readonly unacked: Map<number, { message: OutboundMessage; key: string }>;
  alive: boolean;
}

export interface MemoryBrokerOptions {
  /** Deliver every message twice, the second time marked redelivered. */
  duplicates?: boolean;
}

export interface MemoryTransportShape {
  /** Default "link". */
  connection?: "link" | "request";
  /** Default "routed" on a link; request-only transports always use "stream". */
  inbound?: "routed" | "stream";
  /** With a number, the transport has `publishBatch` for runs of up to that many. Default none. */
  maxBatch?: number;
}

export interface MemoryBroker {
  /** A transport connected to this broker, of the given shape. */
  transport(shape?: MemoryTransportShape): Transport;
  /** Offline: every connection drops, every stream ends, and new ones are refused until set
   *  online again. */
  setOnline(online: boolean): void;
  /** Drop every live connection (they may reconnect at once). */
  dropConnections(): void;
  /** End every open stream, with `error` or as a normal end (they are restarted). */
  endStreams(error?: GmqError): void;
  /** Deliver every message twice from now on (or stop). */
  setDuplicates(on: boolean): void;
  /** Refuse publishes to topics matching `filter` (`remote`, reason REFUSED), or stop. */
  refuse(filter: string | undefined): void;
  /** The next batch accepts only its first `count` messages, then the link fails for the rest
   *  (`disconnected`), as a backend that loses the stream mid-batch. */
  cutNextBatch(count: number): void;
  readonly connectionCount: number;
  /** Streams open now. */
  readonly streams: readonly MemoryStream[];
  /** Messages the broker accepted, in order (for assertions). */
  readonly accepted: readonly OutboundMessage[];
}

const subscriptionKey = (request: SubscribeRequest) => `${request.queue ?? ""}\u0000${request.pattern}`;

const capabilities = (
  shape: Required<Omit<MemoryTransportShape, "maxBatch">>,
  maxBatch = 0,
): TransportCapabilities => ({
  connection: shape.connection,
  inbound: shape.inbound,
  wildcards: true,
  requestReply: false,
  ack: true,
  delay: false,
  binary: true,
  queues: true,
  headers: true,
  retain: shape.inbound === "routed",
  maxBatch,
});

export function createMemoryBroker(options: MemoryBrokerOptions = {}): MemoryBroker {
  const connections = new Set<MemoryConnection>();
  const streams = new Set<MemoryStream>();
  const retained = new Map<string, OutboundMessage>();
  /** Unfinished work of dead subscribers, by subscription key, for the next one. */
  const orphaned: { message: OutboundMessage; key: string }[] = [];
  const accepted: OutboundMessage[] = [];
  const roundRobin = new Map<string, number>();
  let online = true;
  let duplicates = options.duplicates ?? false;
  let refused: string | undefined;
  let cutAfter: number | undefined;
  let deliveryTag = 0;

  const drop = (connection: MemoryConnection, reason: string): void => {
    if (!connection.alive) return;
    connection.alive = false;
    connections.delete(connection);
    // Unacked messages go back to the broker, like an MQTT persistent session would keep them.
    orphaned.push(...connection.unacked.values());
    connection.unacked.clear();
    queueMicrotask(() => connection.sink.onDisconnect(new GmqError("disconnected", reason)));
  };

  const streamHost: StreamHost = {
    release(stream, leftovers) {
      streams.delete(stream);
      const key = subscriptionKey(stream.request);
      for (const message of leftovers) {
        const next = pickStream(key);
        if (next) next.push(message);
        else orphaned.push({ message, key });
      }
    },
  };

  const pickStream = (key: string): MemoryStream | undefined => {
    const candidates = [...streams].filter((stream) => subscriptionKey(stream.request) === key);
    if (candidates.length === 0) return undefined;
    const turn = (roundRobin.get(`stream\u0000${key}`) ?? 0) % candidates.length;
    roundRobin.set(`stream\u0000${key}`, turn + 1);
    return candidates[turn];
  };

  const deliver = (
    connection: MemoryConnection,
    message: OutboundMessage,
    request: SubscribeRequest,
    redelivered: boolean,
  ): void => {
    const tag = ++deliveryTag;
    const key = subscriptionKey(request);
    const inbound: InboundMessage & { ack?: () => void; nack?: (o: { requeue: boolean }) => void } = {
      topic: message.topic,
      payload: message.payload,
      id: message.id,
      qos: Math.min(message.qos, request.qos) as InboundMessage["qos"],
      redelivered,
      ...(message.headers && { headers: message.headers }),
      ...(message.replyTo && { replyTo: message.replyTo }),
      ...(message.correlationId && { correlationId: message.correlationId }),
      ...(message.retain && { retain: true }),
    };
    if (request.manualAck) {
      connection.unacked.set(tag, { message, key });
      inbound.ack = () => {
        connection.unacked.delete(tag);
      };
      inbound.nack = ({ requeue }) => {
        if (!connection.unacked.delete(tag) || !requeue) return;
        const next = pickMembers(message.topic).find((member) => subscriptionKey(member.request) === key);
        if (next) setTimeout(() => deliver(next.connection, message, next.request, true), 0);
      };
    }
    // Asynchronous, like a network; setTimeout keeps order across connections.
    setTimeout(() => {
      if (connection.alive) connection.sink.onMessage(inbound);
    }, 0);
  };

  /** One member per queue group (round robin), every plain subscriber once per connection. */
  const pickMembers = (topic: string): Member[] => {
    const plain = new Map<MemoryConnection, Member>();
    const groups = new Map<string, Member[]>();
    for (const connection of connections) {
      for (const request of connection.subscriptions.values()) {
        if (!topicMatches(request.pattern, topic)) continue;
        const member = { connection, request };
        if (request.queue === undefined) {
          if (!plain.has(connection)) plain.set(connection, member);
        } else {
          const key = subscriptionKey(request);
          groups.set(key, [...(groups.get(key) ?? []), member]);
        }
      }
    }
    const chosen = [...plain.values()];
    for (const [key, members] of groups) {
      const turn = (roundRobin.get(key) ?? 0) % members.length;
      roundRobin.set(key, turn + 1);
      chosen.push(members[turn]!);
    }
    return chosen;
  };

  /** Streams a message goes to: every plain one that matches, one per queue group. */
  const pickStreams = (topic: string): MemoryStream[] => {
    const keys = new Set<string>();
    const chosen: MemoryStream[] = [];
    for (const stream of streams) {
      if (!topicMatches(stream.request.pattern, topic)) continue;
      if (stream.request.queue === undefined) chosen.push(stream);
      else keys.add(subscriptionKey(stream.request));
    }
    for (const key of keys) chosen.push(pickStream(key)!);
    return chosen;
  };

  const accept = (message: OutboundMessage): void => {
    if (refused !== undefined && topicMatches(refused, message.topic)) {
      throw new GmqError("remote", `the memory broker refuses ${message.topic}`, { reason: "REFUSED" });
    }
    const members = pickMembers(message.topic);
    const pulled = pickStreams(message.topic);
    if (message.replyTo !== undefined && members.length === 0 && pulled.length === 0) {
      throw new GmqError("no_responder", `no subscriber for ${message.topic}`);
    }
    accepted.push(message);
    if (message.retain) {
      if (message.payload.byteLength === 0) retained.delete(message.topic);
      else retained.set(message.topic, message);
    }
    for (const member of members) {
      deliver(member.connection, message, member.request, false);
      if (duplicates) deliver(member.connection, message, member.request, true);
    }
    for (const stream of pulled) {
      stream.push(message);
      if (duplicates) stream.push(message);
    }
  };

  /** Opens a pull stream, handing it what an earlier one of the same subscription left. */
  const openStream = (
    request: SubscribeRequest,
    subscribeOptions: Parameters<NonNullable<Transport["subscribe"]>>[1],
  ) => {
    const stream = new MemoryStream(request, subscribeOptions, streamHost);
    streams.add(stream);
    const key = subscriptionKey(request);
    for (let i = 0; i < orphaned.length; ) {
      const entry = orphaned[i]!;
      if (entry.key === key) {
        orphaned.splice(i, 1);
        stream.push(entry.message);
      } else i++;
    }
    return stream;
  };

  const transport = (shape: MemoryTransportShape = {}): Transport => {
    const connectionModel = shape.connection ?? "link";
    const resolved = {
      connection: connectionModel,
      inbound: connectionModel === "request" ? "stream" : (shape.inbound ?? "routed"),
    } as const;
    let connection: MemoryConnection | undefined;
    const mine = new Set<MemoryStream>();
    const live = (): void => {
      if (resolved.connection === "request") {
        if (!online) throw unreachable();
      } else if (!connection?.alive) {
        throw new GmqError("disconnected", "not connected to the memory broker");
      }
    };
    const base: Transport = {
      name: "memory",
      // MQTT grammar, with `$share/<group>/` for queue groups like an MQTT 5 broker.
      naming: { sharedPrefix: true },
      capabilities: capabilities(resolved, shape.maxBatch),
      async disconnect() {
        for (const stream of mine) stream.fail();
        mine.clear();
        if (!connection) return;
        const current = connection;
        connection = undefined;
        current.alive = false;
        connections.delete(current);
        orphaned.push(...current.unacked.values());
        current.unacked.clear();
      },
      async publish(message) {
        live();
        await Promise.resolve();
        live();
        accept(message);
      },
      async subscribe(request, subscribeOptions) {
        live();
        await Promise.resolve();
        live();
        if (resolved.inbound === "stream") {
          const stream = openStream(request, subscribeOptions);
          mine.add(stream);
          subscribeOptions.signal.addEventListener("abort", () => mine.delete(stream), { once: true });
          return;
        }
        const current = connection!;
        current.subscriptions.set(subscriptionKey(request), request);
        for (const message of retained.values()) {
          if (topicMatches(request.pattern, message.topic))
            deliver(current, { ...message, retain: true }, request, false);
        }
        // Hand over what a dead subscriber of the same subscription left unacked.
        const key = subscriptionKey(request);
        const handOver = orphaned.filter((entry) => entry.key === key);
        if (handOver.length > 0) {
          orphaned.splice(0, orphaned.length, ...orphaned.filter((entry) => entry.key !== key));
          for (const entry of handOver) deliver(current, entry.message, request, true);
        }
      },
    };
    if (shape.maxBatch) {
      base.publishBatch = async (messages) => {
        live();
        await Promise.resolve();
        const cut = cutAfter;
        cutAfter = undefined;
        const results = messages.map((message, i): unknown => {
          if (cut !== undefined && i >= cut) return new GmqError("disconnected", "the batch was cut off");
          try {
            live();
            accept(message);
            return undefined;
          } catch (error) {
            return error;
          }
        });
        if (cut !== undefined && connection) drop(connection, "the batch was cut off");
        return results;
      };
    }
    if (resolved.connection === "request") return base;
    return {
      ...base,
      async connect(sink) {
        await Promise.resolve();
        if (!online) throw new GmqError("disconnected", "memory broker is offline");
        if (connection) drop(connection, "replaced by a new connection");
        connection = { sink, subscriptions: new Map(), unacked: new Map(), alive: true };
        connections.add(connection);
      },
      ...(resolved.inbound === "routed" && {
        async unsubscribe(request: SubscribeRequest) {
          live();
          connection!.subscriptions.delete(subscriptionKey(request));
        },
      }),
    };
  };

  return {
    transport,
    setOnline(value) {
      online = value;
      if (online) return;
      for (const connection of [...connections]) drop(connection, "memory broker went offline");
      for (const stream of [...streams]) stream.fail(unreachable());
    },
    dropConnections() {
      for (const connection of [...connections]) drop(connection, "connection dropped by the memory broker");
    },
    endStreams(error) {
      for (const stream of [...streams]) stream.fail(error);
    },
    setDuplicates(on) {
      duplicates = on;
    },
    refuse(filter) {
      refused = filter;
    },
    cutNextBatch(count) {
      cutAfter = count;
    },
    get connectionCount() {
      return connections.size;
    },
    get streams() {
      return [...streams];
    },
    accepted,
  };
}

/** A transport on a broker of its own, or on `broker` to connect several clients. */
export function createMemoryTransport(
  options: { broker?: MemoryBroker } & MemoryTransportShape = {},
): Transport {
  const { broker, ...shape } = options;
  return (broker ?? createMemoryBroker()).transport(shape);
}
