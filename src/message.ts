import type { DedupWindow } from "./dedup.js";
import { GmqError } from "./errors.js";
import type { InboundMessage } from "./transport.js";

/** A message as a subscriber sees it. */
export interface Message<T = unknown> {
  /** The gmq message id (absent for messages from non-gmq publishers). */
  readonly id: string | undefined;
  readonly topic: string;
  /** The payload decoded by the subscription's codec (lazily; throws `protocol` if it cannot). */
  readonly data: T;
  /** The payload exactly as it arrived. */
  readonly payload: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  /** The backend says this may have been delivered before. */
  readonly redelivered: boolean;
  /** How often the backend delivered it before, where it counts (e.g. the gmq node's
   *  `retry_count`). */
  readonly deliveryCount: number | undefined;
  readonly replyTo: string | undefined;
  readonly correlationId: string | undefined;
  /** Tell the backend it is handled. Idempotent. In auto-ack mode gmq calls it for you. A method:
   *  call it on the message (`message.ack()`), not detached from it. */
  ack(): Promise<void>;
  /** Give it back: with `requeue` (default true) the backend may deliver it again. */
  nack(options?: { requeue?: boolean }): Promise<void>;
}

/** What `ack()` returns when there is nothing to wait for; callers may skip awaiting it. */
export const ACKED: Promise<void> = Promise.resolve();

/** Who delivered a message, told how its handling ended. */
export interface AckOwner {
  /** It was nacked with requeue: its redelivery must be processed again (forget its id). */
  requeued(id: string): void;
  /** Every subscription that got it acked it (a redelivery of it is a copy). */
  acked?(inbound: InboundMessage): void;
}

/**
 * One inbound message can reach several local subscriptions; the backend hears one ack, once
 * all of them acked, or one nack as soon as any of them nacks.
 */
export class AckTracker {
  #remaining: number;
  #settled = false;
  readonly #inbound: InboundMessage;
  readonly #owner: AckOwner;

  constructor(inbound: InboundMessage, deliveries: number, owner: AckOwner) {
    this.#inbound = inbound;
    this.#owner = owner;
    this.#remaining = deliveries;
  }

  ack(): Promise<void> {
    if (this.#settled || --this.#remaining > 0) return ACKED;
    this.#settled = true;
    this.#owner.acked?.(this.#inbound);
    // Most messages were acked by the adapter already: no promise to make for them.
    return this.#inbound.ack ? settle(() => this.#inbound.ack!()) : ACKED;
  }

  nack(requeue: boolean): Promise<void> {
    if (this.#settled) return ACKED;
    this.#settled = true;
    const id = this.#inbound.id;
    if (requeue && id !== undefined) this.#owner.requeued(id);
    return this.#inbound.nack ? settle(() => this.#inbound.nack!({ requeue })) : ACKED;
  }
}

/** Runs an adapter's ack/nack, turning a throw into a rejection. */
function settle(run: () => Promise<void> | void): Promise<void> {
  try {
    return Promise.resolve(run());
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * A message as delivered to one subscription. A class rather than an object literal: it is made
 * for every delivery, and methods on a prototype cost no closures. Its own state is in #private
 * fields, so logging or serialising a message shows only the message. `data` is decoded on first
 * access, so a payload the codec cannot read still reaches the subscriber (as `payload`), and
 * reading `data` throws a GmqError `protocol` saying why.
 */
class Delivered<T> implements Message<T> {
  // Declared only: the constructor sets them all, so no field definitions run before it.
  declare readonly id: string | undefined;
  declare readonly topic: string;
  declare readonly payload: Uint8Array;
  declare readonly headers: Readonly<Record<string, string>>;
  declare readonly redelivered: boolean;
  declare readonly deliveryCount: number | undefined;
  declare readonly replyTo: string | undefined;
  declare readonly correlationId: string | undefined;
  readonly #owner: MessageOwner<T>;
  readonly #tracker: AckTracker;
  #decoded: { value: T } | undefined;
  #done = false;

  constructor(inbound: InboundMessage, owner: MessageOwner<T>, tracker: AckTracker) {
    this.id = inbound.id;
    this.topic = inbound.topic;
    this.payload = inbound.payload;
    this.headers = inbound.headers ?? NO_HEADERS;
    this.redelivered = inbound.redelivered ?? false;
    this.deliveryCount = inbound.deliveryCount;
    this.replyTo = inbound.replyTo;
    this.correlationId = inbound.correlationId;
    this.#owner = owner;
    this.#tracker = tracker;
  }

  get data(): T {
    this.#decoded ??= { value: this.#owner.decode(this.payload) };
    return this.#decoded.value;
  }

  ack(): Promise<void> {
    if (this.#done) return ACKED;
    this.#done = true;
    this.#owner.settle();
    return this.#tracker.ack();
  }

  nack(options?: { requeue?: boolean }): Promise<void> {
    if (this.#done) return ACKED;
    this.#done = true;
    this.#owner.settle();
    return this.#tracker.nack(options?.requeue ?? true);
  }

  /** JSON shows the message with its decoded `data`, as a plain object would. */
  toJSON(): Omit<Message<T>, "ack" | "nack"> {
    // Its own fields (not the #private ones), and the decoded `data`.
    return { ...this, data: this.data };
  }
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** Whom a delivered message belongs to: its subscription. */
export interface MessageOwner<T> {
  decode(bytes: Uint8Array): T;
  /** The message was acked or nacked: its place in the subscription's buffer is free. */
  settle(): void;
}

/** A subscription as `dispatch` sees it. */
interface Member extends MessageOwner<any> {
  readonly isClosed: boolean;
  deliver(message: Message<any>): void;
}

/**
 * Hands one inbound message to every live member (once per message id, when `dedup` is given),
 * all sharing one ack. What nobody takes, or a duplicate, is acked at once. False for a duplicate.
 */
export function dispatch(
  inbound: InboundMessage,
  members: Iterable<Member>,
  dedup: DedupWindow | undefined,
  owner: AckOwner,
  onError: (error: GmqError) => void,
): boolean {
  let live = 0;
  for (const member of members) if (!member.isClosed) live++;
  const duplicate =
    live > 0 && inbound.id !== undefined && dedup?.seen(inbound.id, inbound.redelivered) === true;
  if (live === 0 || duplicate) {
    void Promise.resolve(inbound.ack?.()).catch((error: unknown) => onError(GmqError.from(error)));
    return !duplicate;
  }
  const tracker = new AckTracker(inbound, live, owner);
  for (const member of members) if (!member.isClosed) member.deliver(new Delivered(inbound, member, tracker));
  return true;
}
