/**
 * Late acknowledgements (PUBACK) for inbound QoS 1 messages on one connection.
 *
 * mqtt.js acknowledges a message as soon as its `handleMessage` hook calls back, and holding that
 * callback would stall every packet behind it (PUBACKs for our own publishes included). So for a
 * message that waits for the app, the hook calls back with an error, which makes mqtt.js skip its
 * PUBACK, and this class writes the PUBACK itself later.
 *
 * QoS 2 cannot be held this way: mqtt.js completes the broker's half (PUBREC) before the app sees
 * the message. Manual-ack subscriptions are therefore made at QoS 1 on the wire; gmq's dedup by
 * message id gives receivers the effectively-once that QoS 2 would.
 *
 * MQTT requires PUBACKs in the order the PUBLISH packets arrived, so once one is held, later ones
 * (even auto-acked) queue behind it. That is head-of-line blocking by design: a message the app
 * never acks holds back the acks after it until the connection ends and the broker redelivers.
 *
 * MQTT has no negative acknowledgement: `nack({ requeue: true })` keeps the message unacked at the
 * broker (redelivered by it on the next session) and hands it to the app again after a short
 * delay; `nack({ requeue: false })` acknowledges it, which is the only way to drop it.
 */
import type { InboundMessage } from "gmq";

interface Entry {
  readonly messageId: number;
  done: boolean;
}

type Inbound = Omit<InboundMessage, "ack" | "nack">;

/** Pass this to mqtt.js's `handleMessage` callback to make it skip its own acknowledgement. */
export const HELD = new Error("acknowledgement held by gmq");

function puback(messageId: number): Uint8Array {
  // A successful MQTT 5 PUBACK may omit reason code and properties (length 2), which makes it
  // byte for byte the 3.1.1 one.
  return new Uint8Array([0x40, 0x02, messageId >> 8, messageId & 0xff]);
}

export class InboundAcks {
  private readonly pubacks: Entry[] = [];
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private closed = false;

  constructor(
    private readonly write: (bytes: Uint8Array) => void,
    private readonly redeliveryDelayMs: number,
  ) {}

  /** A QoS 1 ack is held ahead: mqtt.js must not ack the next one itself. */
  get blocking(): boolean {
    return this.pubacks.length > 0;
  }

  /** Queue the PUBACK of a QoS 1 message; `done` says whether it may go out once its turn comes. */
  hold(messageId: number, done: boolean): Entry {
    const entry: Entry = { messageId, done };
    this.pubacks.push(entry);
    if (done) this.flush();
    return entry;
  }

  /**
   * The message with ack/nack bound to its held acknowledgement. `deliver` hands a message to the
   * app; a requeued one comes back through it, marked redelivered.
   */
  attach(inbound: Inbound, entry: Entry, deliver: (message: InboundMessage) => void): InboundMessage {
    let settled = false;
    return {
      ...inbound,
      ack: () => {
        if (settled) return;
        settled = true;
        this.settle(entry);
      },
      nack: ({ requeue }) => {
        if (settled) return;
        settled = true;
        if (!requeue) return this.settle(entry);
        if (this.closed) return;
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          if (!this.closed) deliver(this.attach({ ...inbound, redelivered: true }, entry, deliver));
        }, this.redeliveryDelayMs);
        this.timers.add(timer);
      },
    };
  }

  /** The connection is gone: held acks die with it (the broker redelivers those messages). */
  close(): void {
    this.closed = true;
    this.pubacks.length = 0;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private settle(entry: Entry): void {
    if (this.closed || entry.done) return;
    entry.done = true;
    this.flush();
  }

  private flush(): void {
    let sent = 0;
    while (sent < this.pubacks.length && this.pubacks[sent]!.done) {
      this.write(puback(this.pubacks[sent]!.messageId));
      sent++;
    }
    if (sent > 0) this.pubacks.splice(0, sent);
  }
}
