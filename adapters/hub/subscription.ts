/**
 * One client subscription on one connection: recovery and its live buffer, position tracking and
 * gap repair for exact-topic streams, and manual-ack flow control (tags, in-flight limit, the
 * messages waiting for room).
 */
import { topicMatches } from "gmq";
import type { EngineSession, Interest, StoredMessage } from "./engine.js";
import type { StreamPosition } from "./protocol.js";

/** What a subscription needs from its connection. */
export interface SubscriptionOwner {
  send(text: string): void;
  /** A new delivery tag for a manual-ack message, routed back to `sub` on ack/nack. */
  tag(sub: Subscription): number;
  untag(tag: number): void;
  /** The subscription holds more than it may: close the connection as a slow consumer. */
  slow(): void;
  /** The hub ended the subscription (an unrecoverable gap). */
  ended(sub: Subscription, message: string): void;
}

/** What a subscription needs from the hub's router. */
export interface Requeuer {
  requeue(sub: Subscription, message: StoredMessage): void;
}

interface Delivery {
  readonly message: StoredMessage;
  readonly redelivered: boolean;
}

export class Subscription {
  /** The topic when the pattern has no wildcard and no queue: a stream with a position. */
  readonly topic: string | undefined;
  readonly interest: Interest;
  private state: "recovering" | "live" | "closed" = "recovering";
  private buffer: Delivery[] = [];
  private position: StreamPosition | undefined;
  private readonly inFlight = new Map<number, StoredMessage>();
  private pending: Delivery[] = [];
  /** The start of every `message` frame of this subscription. */
  private readonly framePrefix: string;

  constructor(
    readonly id: string,
    pattern: string,
    queue: string | undefined,
    readonly manual: boolean,
    readonly maxInFlight: number,
    private readonly maxPending: number,
    private readonly owner: SubscriptionOwner,
    private readonly requeuer: Requeuer,
  ) {
    this.framePrefix = messagePrefix(id);
    this.interest = queue === undefined ? { pattern } : { pattern, queue };
    this.topic =
      queue === undefined && !pattern.includes("+") && !pattern.includes("#") ? pattern : undefined;
  }

  get closed(): boolean {
    return this.state === "closed";
  }

  /** Manual-ack room for one more message now. */
  get hasRoom(): boolean {
    return !this.manual || this.inFlight.size + this.pending.length < this.maxInFlight;
  }

  /** A message from the engine (live) or the router (requeued). */
  offer(message: StoredMessage, redelivered: boolean): void {
    if (this.state === "closed") {
      if (this.interest.queue !== undefined) this.requeuer.requeue(this, message);
      return;
    }
    // The engine matches by pattern too; this also keeps `$…` topics away from `#` and `+/…`.
    if (!topicMatches(this.interest.pattern, message.topic)) return;
    if (this.state === "recovering") {
      this.buffer.push({ message, redelivered });
      return;
    }
    if (this.position) {
      if (message.epoch === this.position.epoch) {
        if (message.offset <= this.position.offset) return; // already delivered (replay overlap)
        if (message.prev > this.position.offset) {
          this.buffer.push({ message, redelivered });
          void this.repair(message);
          return;
        }
      }
      this.position = { epoch: message.epoch, offset: message.offset };
    }
    this.deliver({ message, redelivered });
  }

  /**
   * Go live: for a stream subscription, send what was missed since `replayed` (already checked by
   * the caller), then everything buffered meanwhile that is newer.
   */
  start(position: StreamPosition | undefined, replayed: readonly StoredMessage[]): void {
    if (this.state === "closed") return;
    this.position = position && this.topic !== undefined ? { ...position } : undefined;
    for (const message of replayed) this.deliver({ message, redelivered: false });
    this.goLive();
  }

  ack(tag: number): void {
    if (!this.inFlight.delete(tag)) return;
    this.owner.untag(tag);
    this.flushPending();
  }

  nack(tag: number, requeue: boolean): void {
    const message = this.inFlight.get(tag);
    if (!message) return;
    this.inFlight.delete(tag);
    this.owner.untag(tag);
    if (requeue) {
      if (this.interest.queue !== undefined) this.requeuer.requeue(this, message);
      else this.pending.push({ message, redelivered: true });
    }
    this.flushPending();
  }

  /** Stop. Unacked and waiting messages of a queue subscription go back to the group. */
  close(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    const left = [
      ...this.inFlight.values(),
      ...this.pending.map((d) => d.message),
      ...this.buffer.map((d) => d.message),
    ];
    for (const tag of this.inFlight.keys()) this.owner.untag(tag);
    this.inFlight.clear();
    this.pending = [];
    this.buffer = [];
    if (this.interest.queue !== undefined) for (const message of left) this.requeuer.requeue(this, message);
  }

  private goLive(): void {
    const buffered = this.buffer;
    this.buffer = [];
    this.state = "live";
    for (const delivery of buffered) {
      if (this.state !== "live") {
        this.buffer.push(delivery);
        continue;
      }
      this.offer(delivery.message, delivery.redelivered);
    }
  }

  /** A live message says its stream has one we never got: fetch the gap from history first. */
  private async repair(trigger: StoredMessage): Promise<void> {
    if (!this.position || this.state !== "live" || !this.engine) return;
    this.state = "recovering";
    const since = this.position;
    try {
      const recovery = await this.engine.recover(trigger.topic, since);
      if (this.closed) return;
      if (!recovery.recovered)
        return this.owner.ended(this, `messages after offset ${since.offset} are no longer kept`);
      let offset = since.offset;
      for (const message of recovery.messages) {
        if (message.offset <= offset) continue;
        offset = message.offset;
        this.deliver({ message, redelivered: false });
      }
      this.position = { epoch: since.epoch, offset };
      this.goLive();
    } catch (error) {
      if (!this.closed) this.owner.ended(this, `could not repair a gap: ${String(error)}`);
    }
  }

  /** Set by the router: where gaps are repaired from. */
  engine: EngineSession | undefined;

  private deliver(delivery: Delivery): void {
    if (!this.manual) {
      this.owner.send(messageFrame(this.framePrefix, delivery.message, 0, delivery.redelivered));
      return;
    }
    if (this.inFlight.size >= this.maxInFlight || this.pending.length > 0) {
      if (this.pending.length >= this.maxPending) {
        this.owner.slow();
        return;
      }
      this.pending.push(delivery);
      return;
    }
    this.send(delivery);
  }

  private send({ message, redelivered }: Delivery): void {
    const tag = this.owner.tag(this);
    this.inFlight.set(tag, message);
    this.owner.send(messageFrame(this.framePrefix, message, tag, redelivered));
  }

  private flushPending(): void {
    while (this.state !== "closed" && this.pending.length > 0 && this.inFlight.size < this.maxInFlight) {
      this.send(this.pending.shift()!);
    }
  }
}

const bodies = new WeakMap<StoredMessage, string>();

/** The part of a `message` frame shared by every subscription that gets the message. */
function body(message: StoredMessage): string {
  let text = bodies.get(message);
  if (text === undefined) {
    const fields: Record<string, unknown> = { topic: message.topic };
    if (message.payload !== undefined) fields.payload = message.payload;
    if (message.enc !== undefined) fields.enc = message.enc;
    if (message.id !== undefined) fields.id = message.id;
    if (message.headers !== undefined) fields.headers = message.headers;
    if (message.replyTo !== undefined) fields.replyTo = message.replyTo;
    if (message.correlationId !== undefined) fields.correlationId = message.correlationId;
    fields.epoch = message.epoch;
    fields.offset = message.offset;
    text = JSON.stringify(fields).slice(1, -1);
    bodies.set(message, text);
  }
  return text;
}

/** A `message` frame; `prefix` is `messagePrefix(sub)`, made once per subscription. */
export function messageFrame(
  prefix: string,
  message: StoredMessage,
  tag: number,
  redelivered: boolean,
): string {
  const tagPart = tag > 0 ? `,"tag":${tag}` : "";
  const again = redelivered ? `,"redelivered":true` : "";
  return `${prefix}${tagPart}${again},${body(message)}}`;
}

export function messagePrefix(sub: string): string {
  return `{"type":"message","sub":${JSON.stringify(sub)}`;
}
