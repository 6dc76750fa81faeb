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
  readonly replyTo: string | undefined;
  readonly correlationId: string | undefined;
  /** Tell the backend it is handled. Idempotent. In auto-ack mode gmq calls it for you. */
  ack(): Promise<void>;
  /** Give it back: with `requeue` (default true) the backend may deliver it again. */
  nack(options?: { requeue?: boolean }): Promise<void>;
}

/**
 * One inbound message can reach several local subscriptions; the backend hears one ack, once
 * all of them acked, or one nack as soon as any of them nacks.
 */
export class AckTracker {
  private remaining: number;
  private settled = false;

  constructor(
    private readonly inbound: InboundMessage,
    deliveries: number,
    private readonly onSettle: (outcome: "ack" | "nack", requeue: boolean) => void,
  ) {
    this.remaining = deliveries;
  }

  async ack(): Promise<void> {
    if (this.settled || --this.remaining > 0) return;
    this.settled = true;
    this.onSettle("ack", false);
    await this.inbound.ack?.();
  }

  async nack(requeue: boolean): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    this.onSettle("nack", requeue);
    await this.inbound.nack?.({ requeue });
  }
}

/** `data` is decoded on first access, so a payload the codec cannot read still reaches the
 *  subscriber (as `payload`), and reading `data` throws a GmqError `protocol` saying why. */
export function createMessage<T>(
  inbound: InboundMessage,
  decode: (bytes: Uint8Array) => T,
  tracker: AckTracker,
): Message<T> {
  let done = false;
  let decoded: { value: T } | undefined;
  return {
    id: inbound.id,
    topic: inbound.topic,
    get data(): T {
      decoded ??= { value: decode(inbound.payload) };
      return decoded.value;
    },
    payload: inbound.payload,
    headers: inbound.headers ?? {},
    redelivered: inbound.redelivered ?? false,
    replyTo: inbound.replyTo,
    correlationId: inbound.correlationId,
    async ack() {
      if (done) return;
      done = true;
      await tracker.ack();
    },
    async nack(options) {
      if (done) return;
      done = true;
      await tracker.nack(options?.requeue ?? true);
    },
  };
}
