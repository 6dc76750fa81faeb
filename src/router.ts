import type { BackoffOptions } from "./backoff.js";
import type { Link } from "./connection.js";
import { DedupWindow } from "./dedup.js";
import type { GmqError } from "./errors.js";
import { type AckOwner, dispatch } from "./message.js";
import type { Positions } from "./positions.js";
import type { Subscription, SubscriptionOwner } from "./subscription.js";
import { TopicTree } from "./topic-tree.js";
import type { InboundMessage, SubscribeRequest, Transport } from "./transport.js";
import { WireSubscription } from "./wire-subscription.js";

/**
 * Keeps local subscriptions and mirrors them onto the transport as its inbound model says:
 * routed and stream subscriptions become wire subscriptions (restored after every reconnect,
 * restarted when a stream ends); push transports need none, as every inbound message is matched
 * locally. Routes each message from the link to the matching subscriptions, once per message id.
 */
export class Router implements SubscriptionOwner, AckOwner {
  readonly #local = new Set<Subscription<any>>();
  /** Routing looks subscriptions up by topic level, so its cost does not grow with their number. */
  readonly #tree = new TopicTree<Subscription<any>>();
  readonly #wire = new Map<string, WireSubscription>();
  readonly #wireOf = new Map<Subscription<any>, WireSubscription>();
  readonly #dedup: DedupWindow;
  /** Recent topics and the subscriptions they match: most traffic repeats a few topics, and a
   *  hit skips the tree walk. Emptied whenever the subscriptions change, and when it grows. */
  readonly #matches = new Map<string, Subscription<any>[]>();
  #link: Link | undefined;
  duplicatesDropped = 0;
  readonly #transport: Transport;
  readonly #config: {
    readonly dedupWindow: number;
    readonly reconnect: Required<BackoffOptions> | false;
    readonly positions: Positions;
    readonly onError: (error: GmqError) => void;
  };

  constructor(
    transport: Transport,
    config: {
      readonly dedupWindow: number;
      readonly reconnect: Required<BackoffOptions> | false;
      readonly positions: Positions;
      readonly onError: (error: GmqError) => void;
    },
  ) {
    this.#transport = transport;
    this.#config = config;
    this.#dedup = new DedupWindow(config.dedupWindow);
  }

  onError(error: GmqError): void {
    this.#config.onError(error);
  }

  add(subscription: Subscription<any>): void {
    this.#local.add(subscription);
    const inbound = this.#transport.capabilities.inbound;
    if (inbound === "push") {
      this.#addToTree(subscription);
      subscription.confirmed(); // every message is a push; matching is local
      return;
    }
    if (inbound === "routed") this.#addToTree(subscription);
    const { filter, queue, qos, args, serve } = subscription.spec;
    // A QoS 1 message is acknowledged only once its handler has settled (auto mode) or the app
    // acked it (manual), so a crash before then leaves it with the backend for redelivery.
    const manualAck = subscription.spec.manualAck || (this.#transport.capabilities.ack && qos === 1);
    const key = `${queue ?? ""}\u0000${filter}\u0000${args ? bytesKey(args) : ""}`;
    let wire = this.#wire.get(key);
    if (!wire) {
      const request: SubscribeRequest = {
        pattern: filter,
        qos,
        manualAck,
        ...(queue && { queue }),
        ...(args && { args }),
        ...(serve && { serve }),
      };
      wire = new WireSubscription({ transport: this.#transport, ...this.#config }, request, key);
      this.#wire.set(key, wire);
    }
    wire.members.add(subscription);
    this.#wireOf.set(subscription, wire);
    // The wire subscription carries the strongest terms any member asked for.
    const request = wire.request;
    if (qos > request.qos || (manualAck && !request.manualAck)) {
      wire.request = {
        ...request,
        qos: Math.max(qos, request.qos) as SubscribeRequest["qos"],
        manualAck: request.manualAck || manualAck,
      };
    }
    if (wire.active && wire.active === wire.request) subscription.confirmed();
    else if (this.#link) void wire.attach(this.#link);
  }

  /** A subscription ended (unsubscribed, refused, client closing). */
  async removed(subscription: Subscription<any>): Promise<void> {
    if (!this.#local.delete(subscription)) return;
    this.#tree.delete(subscription.spec.filter, subscription);
    this.#matches.clear();
    const wire = this.#wireOf.get(subscription);
    this.#wireOf.delete(subscription);
    if (!wire) return;
    wire.members.delete(subscription);
    wire.flow.changed();
    if (wire.members.size > 0) return;
    for (const [key, value] of this.#wire) if (value === wire) this.#wire.delete(key);
    await wire.close();
  }

  requeued(id: string): void {
    this.#dedup.forget(id);
  }

  acked(inbound: InboundMessage): void {
    if (inbound.id !== undefined) this.#dedup.acked(inbound.id);
  }

  settled(subscription: Subscription<any>): void {
    this.#wireOf.get(subscription)?.flow.changed();
  }

  /** A link is up: subscribe everything again. A refused one fails only its own members. */
  async restore(link: Link): Promise<void> {
    this.#link = link;
    if (this.#transport.capabilities.inbound === "push")
      for (const subscription of this.#local) subscription.confirmed();
    await Promise.all([...this.#wire.values()].map((wire) => wire.attach(link)));
  }

  /** The link is gone; `error` says why (undefined when the client is closing). */
  detach(error?: GmqError): void {
    this.#link = undefined;
    for (const wire of this.#wire.values()) wire.detach(error);
    if (error && this.#transport.capabilities.inbound === "push") {
      for (const subscription of this.#local) subscription.interrupted(error);
    }
  }

  /** The client is closing: end every subscription without touching the wire. */
  async closeAll(): Promise<void> {
    this.detach();
    await Promise.all([...this.#local].map((subscription) => subscription.unsubscribe()));
  }

  /** Delivers one inbound message from the link to every matching local subscription. */
  route(inbound: InboundMessage): void {
    if (!dispatch(inbound, this.#match(inbound.topic), this.#dedup, this, this.#config.onError)) {
      this.duplicatesDropped++;
    }
  }

  #addToTree(subscription: Subscription<any>): void {
    this.#tree.add(subscription.spec.filter, subscription);
    this.#matches.clear();
  }

  #match(topic: string): Subscription<any>[] {
    let found = this.#matches.get(topic);
    if (found === undefined) {
      if (this.#matches.size >= 1024) this.#matches.clear();
      found = [...this.#tree.match(topic)];
      this.#matches.set(topic, found);
    }
    return found;
  }
}

/** Stream arguments as part of a map key: equal bytes share one wire subscription. */
function bytesKey(bytes: Uint8Array): string {
  let key = "";
  for (const byte of bytes) key += String.fromCharCode(byte);
  return key;
}
