/**
 * An in-process broker with MQTT-style wildcards, queue groups, retained messages and manual
 * acks, plus fault injection (go offline, drop connections, deliver everything twice). For
 * users' own tests and for the core's. It implements only the public Transport contract.
 */
import {
  GmqError,
  type InboundMessage,
  type OutboundMessage,
  type SubscribeRequest,
  type Transport,
  type TransportSink,
  topicMatches,
} from "gmq";

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

export interface MemoryBroker {
  /** A transport connected to this broker. */
  transport(): Transport;
  /** Offline: every connection drops and new ones are refused until set online again. */
  setOnline(online: boolean): void;
  /** Drop every live connection (they may reconnect at once). */
  dropConnections(): void;
  /** Deliver every message twice from now on (or stop). */
  setDuplicates(on: boolean): void;
  readonly connectionCount: number;
  /** Messages the broker accepted, in order (for assertions). */
  readonly accepted: readonly OutboundMessage[];
}

const subscriptionKey = (request: SubscribeRequest) => `${request.queue ?? ""}\u0000${request.pattern}`;

export function createMemoryBroker(options: MemoryBrokerOptions = {}): MemoryBroker {
  const connections = new Set<MemoryConnection>();
  const retained = new Map<string, OutboundMessage>();
  const orphaned: { message: OutboundMessage; key: string }[] = [];
  const accepted: OutboundMessage[] = [];
  const roundRobin = new Map<string, number>();
  let online = true;
  let duplicates = options.duplicates ?? false;
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

  const transport = (): Transport => {
    let connection: MemoryConnection | undefined;
    const live = (): MemoryConnection => {
      if (!connection?.alive) throw new GmqError("disconnected", "not connected to the memory broker");
      return connection;
    };
    return {
      name: "memory",
      // MQTT grammar, with `$share/<group>/` for queue groups like an MQTT 5 broker.
      naming: { sharedPrefix: true },
      capabilities: {
        connection: "link",
        inbound: "routed",
        wildcards: true,
        requestReply: false,
        ack: true,
        delay: false,
        binary: true,
        queues: true,
        headers: true,
        retain: true,
      },
      async connect(sink) {
        await Promise.resolve();
        if (!online) throw new GmqError("disconnected", "memory broker is offline");
        if (connection) drop(connection, "replaced by a new connection");
        connection = { sink, subscriptions: new Map(), unacked: new Map(), alive: true };
        connections.add(connection);
      },
      async disconnect() {
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
        const members = pickMembers(message.topic);
        if (message.replyTo !== undefined && members.length === 0) {
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
      },
      async subscribe(request) {
        const current = live();
        await Promise.resolve();
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
      async unsubscribe(request) {
        live().subscriptions.delete(subscriptionKey(request));
      },
    };
  };

  return {
    transport,
    setOnline(value) {
      online = value;
      if (!online) for (const connection of [...connections]) drop(connection, "memory broker went offline");
    },
    dropConnections() {
      for (const connection of [...connections]) drop(connection, "connection dropped by the memory broker");
    },
    setDuplicates(on) {
      duplicates = on;
    },
    get connectionCount() {
      return connections.size;
    },
    accepted,
  };
}

/** A transport on a broker of its own, or on `broker` to connect several clients. */
export function createMemoryTransport(options: { broker?: MemoryBroker } = {}): Transport {
  return (options.broker ?? createMemoryBroker()).transport();
}
