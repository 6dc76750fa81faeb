/**
 * A complete third-party gmq adapter, written only against the public contract (`gmq`): a
 * transport over the `BroadcastChannel` API, so tabs of one origin (or workers, or Node threads)
 * talk without a server. Read it with the README section "Writing an adapter".
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

export interface BroadcastChannelOptions {
  /** Everyone on the same channel name hears each other. */
  name: string;
}

/** What travels on the channel: a structured clone, so bytes and headers need no encoding. */
interface Envelope {
  topic: string;
  payload: Uint8Array;
  id: string;
  headers?: Record<string, string>;
  replyTo?: string;
  correlationId?: string;
}

export function broadcastChannelTransport(options: BroadcastChannelOptions): Transport {
  if (typeof options?.name !== "string" || options.name === "") {
    throw GmqError.invalid("name", "must be a non-empty string"); // bad input fails at once
  }
  let channel: BroadcastChannel | undefined;
  let sink: TransportSink | undefined;
  const subscriptions = new Map<string, SubscribeRequest>();

  /** There is no broker to filter for us, so the adapter matches its own subscriptions. */
  const deliver = (envelope: Envelope): void => {
    if (![...subscriptions.values()].some((s) => topicMatches(s.pattern, envelope.topic))) return;
    const message: InboundMessage = { ...envelope, qos: 0 };
    sink?.onMessage(message);
  };

  return {
    name: "broadcast-channel",
    // Honest flags: the core emulates request/reply over pub/sub (it needs `headers` and
    // `subscribe`) and refuses queue groups, manual acks and delays with `unsupported`.
    capabilities: {
      connection: "link", // connect() opens the channel; the core keeps it
      inbound: "routed", // subscribe() says what we want; messages come through the sink
      wildcards: true,
      requestReply: false,
      ack: false,
      delay: false,
      binary: true,
      queues: false,
      headers: true,
      retain: false,
    },

    async connect(next, { signal }) {
      if (signal.aborted) throw GmqError.from(signal.reason);
      if (typeof BroadcastChannel === "undefined") {
        throw new GmqError("unsupported", "this runtime has no BroadcastChannel");
      }
      sink = next;
      channel = new BroadcastChannel(`gmq:${options.name}`);
      channel.onmessage = (event: MessageEvent<Envelope>) => deliver(event.data);
      // A message that cannot be cloned is a malformed frame: report it, never throw.
      channel.onmessageerror = () =>
        next.onError(new GmqError("protocol", "undecodable message on the channel"));
    },

    async disconnect() {
      channel?.close(); // the core asked for it, so no onDisconnect
      channel = undefined;
      subscriptions.clear();
    },

    async publish(message: OutboundMessage) {
      if (!channel) throw new GmqError("disconnected", "the channel is closed");
      const envelope: Envelope = {
        topic: message.topic,
        payload: message.payload,
        id: message.id,
        ...(message.headers && { headers: { ...message.headers } }),
        ...(message.replyTo && { replyTo: message.replyTo }),
        ...(message.correlationId && { correlationId: message.correlationId }),
      };
      channel.postMessage(envelope);
      // A channel never echoes to its sender; a broker would, so deliver to ourselves too.
      queueMicrotask(() => deliver(envelope));
    },

    async subscribe(request: SubscribeRequest) {
      if (!channel) throw new GmqError("disconnected", "the channel is closed");
      subscriptions.set(request.pattern, request);
    },

    async unsubscribe(request: SubscribeRequest) {
      subscriptions.delete(request.pattern);
    },
  };
}
