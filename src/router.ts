import { DedupWindow } from "./dedup.js";
import { GmqError } from "./errors.js";
import { AckTracker, createMessage } from "./message.js";
import type { Subscription } from "./subscription.js";
import { TopicTree } from "./topic-tree.js";
import type { InboundMessage, SubscribeRequest, Transport } from "./transport.js";

/** One subscription on the wire, shared by every local subscription with the same filter+queue. */
interface WireSubscription {
  request: SubscribeRequest;
  readonly members: Set<Subscription<any>>;
  /** The request as last confirmed by the backend on the current connection. */
  active: SubscribeRequest | undefined;
}

/**
 * Keeps local subscriptions, mirrors them onto the transport (restoring them after every
 * reconnect), and routes each inbound message to the matching ones, once per message id.
 */
export class Router {
  private readonly local = new Set<Subscription<any>>();
  /** Routing looks subscriptions up by topic level, so its cost does not grow with their number. */
  private readonly tree = new TopicTree<Subscription<any>>();
  private readonly wire = new Map<string, WireSubscription>();
  private readonly dedup: DedupWindow;
  /** Recent topics and the subscriptions they match: most traffic repeats a few topics, and a
   *  hit skips the tree walk. Emptied whenever the subscriptions change, and when it grows. */
  private readonly matches = new Map<string, Subscription<any>[]>();
  private readonly forgetId = (id: string): void => this.dedup.forget(id);
  private link: AbortSignal | undefined;
  duplicatesDropped = 0;

  constructor(
    private readonly transport: Transport,
    dedupWindow: number,
    private readonly onError: (error: GmqError) => void,
  ) {
    this.dedup = new DedupWindow(dedupWindow);
  }

  get size(): number {
    return this.local.size;
  }

  add(subscription: Subscription<any>): void {
    this.local.add(subscription);
    const { filter, queue, qos, manualAck } = subscription.spec;
    this.tree.add(filter, subscription);
    this.matches.clear();
    if (!this.transport.capabilities.subscribe) {
      subscription.confirmed(); // every message is a push; matching is local
      return;
    }
    const key = `${queue ?? ""}\u0000${filter}`;
    let wire = this.wire.get(key);
    if (!wire) {
      wire = {
        request: { pattern: filter, qos, manualAck, ...(queue && { queue }) },
        members: new Set(),
        active: undefined,
      };
      this.wire.set(key, wire);
    }
    wire.members.add(subscription);
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
    else if (this.link) void this.subscribeWire(wire, this.link);
  }

  async remove(subscription: Subscription<any>): Promise<void> {
    this.local.delete(subscription);
    this.tree.delete(subscription.spec.filter, subscription);
    this.matches.clear();
    for (const [key, wire] of this.wire) {
      if (!wire.members.delete(subscription) || wire.members.size > 0) continue;
      this.wire.delete(key);
      const link = this.link;
      if (link && wire.active && this.transport.unsubscribe) {
        await this.transport.unsubscribe(wire.request, { signal: link }).catch((error: unknown) => {
          this.onError(GmqError.from(error));
        });
      }
    }
  }

  /** A connection is up: subscribe everything again. A refused one fails only its own members. */
  async restore(link: AbortSignal): Promise<void> {
    this.link = link;
    for (const wire of this.wire.values()) wire.active = undefined;
    await Promise.all([...this.wire.values()].map((wire) => this.subscribeWire(wire, link)));
  }

  /** The connection is gone. */
  detach(): void {
    this.link = undefined;
    for (const wire of this.wire.values()) wire.active = undefined;
  }

  /** The client is closing: end every subscription without touching the wire. */
  async closeAll(): Promise<void> {
    this.link = undefined;
    await Promise.all([...this.local].map((subscription) => subscription.unsubscribe()));
  }

  /** Delivers one inbound message to every matching local subscription. */
  route(inbound: InboundMessage): void {
    const matching = this.match(inbound.topic);
    let live = 0;
    for (const subscription of matching) if (!subscription.isClosed) live++;
    const id = inbound.id;
    if (live === 0 || (id !== undefined && this.dedup.seen(id))) {
      if (live > 0) this.duplicatesDropped++;
      void Promise.resolve(inbound.ack?.()).catch((error: unknown) => this.onError(GmqError.from(error)));
      return;
    }
    const tracker = new AckTracker(inbound, live, this.forgetId);
    for (const subscription of matching) {
      if (subscription.isClosed) continue;
      subscription.deliver(createMessage(inbound, subscription.decode, tracker));
    }
  }

  private match(topic: string): Subscription<any>[] {
    let found = this.matches.get(topic);
    if (found === undefined) {
      if (this.matches.size >= 1024) this.matches.clear();
      found = [...this.tree.match(topic)];
      this.matches.set(topic, found);
    }
    return found;
  }

  private async subscribeWire(wire: WireSubscription, link: AbortSignal): Promise<void> {
    const request = wire.request;
    try {
      await this.transport.subscribe!(request, { signal: link });
      if (link !== this.link) return;
      wire.active = request;
      for (const member of wire.members) member.confirmed();
    } catch (error) {
      const failure = GmqError.from(error);
      if (link.aborted) return; // the connection died; restore() runs again on the next one
      for (const member of wire.members) member.refused(failure);
      this.onError(failure);
    }
  }
}
