/**
 * The subscriptions of one connection: `subscribe` (authorise, join the router, answer with the
 * stream position or the recovery and replay), `unsubscribe`, `ack`/`nack` by tag, and ending
 * them all with the connection.
 */
import { type EngineSession, wireError } from "./engine.js";
import type { AuthorizeRequest, ResolvedLimits } from "./options.js";
import type { HubFrame, SubscribeFrame, UnsubscribeFrame, WireError } from "./protocol.js";
import type { Router } from "./router.js";
import { Subscription, type SubscriptionOwner } from "./subscription.js";

type Rid = string | number;

export interface SubscriptionsOwner {
  send(text: string): void;
  frame(frame: HubFrame): void;
  fail(rid: Rid, error: WireError): void;
  allowed(request: AuthorizeRequest): Promise<boolean>;
  /** Close the connection as a slow consumer. */
  slow(): void;
  onError(error: unknown): void;
}

export class ConnectionSubscriptions implements SubscriptionOwner {
  private readonly subs = new Map<string, Subscription>();
  private readonly tags = new Map<number, Subscription>();
  private nextTag = 1;

  constructor(
    private readonly engine: EngineSession,
    private readonly router: Router,
    private readonly limits: ResolvedLimits,
    private readonly owner: SubscriptionsOwner,
  ) {}

  async subscribe(frame: SubscribeFrame): Promise<void> {
    const { rid } = frame;
    const limits = this.limits;
    if (this.subs.has(frame.sub)) {
      return this.owner.fail(rid, {
        ...wireError("invalid_argument", `sub: "${frame.sub}" is in use`),
        field: "sub",
      });
    }
    if (this.subs.size >= limits.maxSubscriptions) {
      const message = `at most ${limits.maxSubscriptions} subscriptions`;
      return this.owner.fail(rid, wireError("busy", message, "too_many_subscriptions"));
    }
    const maxInFlight = Math.min(frame.maxInFlight ?? limits.maxInFlight, limits.maxInFlight);
    const sub = new Subscription(
      frame.sub,
      frame.pattern,
      frame.queue,
      frame.ack === "manual",
      maxInFlight,
      limits.maxPendingMessages,
      this,
      this.router,
    );
    if (frame.recover !== undefined && sub.topic === undefined) {
      const message = "recover: only for a subscription to one topic without a queue";
      return this.owner.fail(rid, { ...wireError("unsupported", message), field: "recover" });
    }
    this.subs.set(frame.sub, sub);
    const { pattern, queue } = frame;
    const request: AuthorizeRequest =
      queue === undefined ? { action: "subscribe", pattern } : { action: "subscribe", pattern, queue };
    if (!(await this.owner.allowed(request))) {
      this.forget(sub);
      return this.owner.fail(rid, wireError("forbidden", `not allowed to subscribe to ${pattern}`));
    }
    try {
      await this.router.join(sub);
      // Unsubscribed before we answered: the subscribe still gets its answer (it did happen).
      if (sub.closed) return this.owner.frame({ type: "subscribed", rid, sub: sub.id });
      if (sub.topic === undefined) {
        this.owner.frame({ type: "subscribed", rid, sub: sub.id });
        sub.start(undefined, []);
        return;
      }
      const recovery = frame.recover
        ? await this.engine.recover(sub.topic, frame.recover)
        : { recovered: undefined, messages: [], position: await this.engine.position(sub.topic) };
      if (sub.closed) return this.owner.frame({ type: "subscribed", rid, sub: sub.id });
      const subscribed: HubFrame & { type: "subscribed" } = { type: "subscribed", rid, sub: sub.id };
      if (recovery.recovered !== undefined) subscribed.recovered = recovery.recovered;
      subscribed.epoch = recovery.position.epoch;
      subscribed.offset = recovery.position.offset;
      this.owner.frame(subscribed);
      sub.start(recovery.position, recovery.recovered ? recovery.messages : []);
    } catch (error) {
      this.forget(sub);
      this.owner.onError(error);
      this.owner.fail(rid, wireError("busy", "the hub could not subscribe; try again", "engine"));
    }
  }

  unsubscribe(frame: UnsubscribeFrame): void {
    const sub = this.subs.get(frame.sub);
    if (sub) this.forget(sub);
    this.owner.frame({ type: "unsubscribed", rid: frame.rid, sub: frame.sub });
  }

  ack(tag: number): void {
    this.tags.get(tag)?.ack(tag);
  }

  nack(tag: number, requeue: boolean): void {
    this.tags.get(tag)?.nack(tag, requeue);
  }

  /** The connection is gone. */
  closeAll(): void {
    for (const sub of this.subs.values()) this.router.leave(sub);
    this.subs.clear();
    this.tags.clear();
  }

  // ---- SubscriptionOwner ----

  send(text: string): void {
    this.owner.send(text);
  }

  tag(sub: Subscription): number {
    const tag = this.nextTag++;
    this.tags.set(tag, sub);
    return tag;
  }

  untag(tag: number): void {
    this.tags.delete(tag);
  }

  slow(): void {
    this.owner.slow();
  }

  ended(sub: Subscription, message: string): void {
    if (this.subs.get(sub.id) !== sub) return;
    this.forget(sub);
    this.owner.frame({ type: "unsubscribed", sub: sub.id, error: wireError("disconnected", message, "gap") });
  }

  private forget(sub: Subscription): void {
    if (this.subs.get(sub.id) === sub) this.subs.delete(sub.id);
    this.router.leave(sub);
  }
}
