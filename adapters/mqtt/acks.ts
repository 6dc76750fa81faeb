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

/** Pass this to mqtt.js's `handleMessage` callback to make it skip its own acknowledgement. */
export const HELD = new Error("acknowledgement held by gmq");

function puback(messageId: number): Uint8Array {
  // A successful MQTT 5 PUBACK may omit reason code and properties (length 2), which makes it
  // byte for byte the 3.1.1 one.
  return new Uint8Array([0x40, 0x02, messageId >> 8, messageId & 0xff]);
}

/**
 * A message whose PUBACK waits for the app. `fromWire` fills in its fields; `ack` and `nack` are
 * methods on the prototype, not two closures per message.
 */
class HeldMessage {
  readonly #acks: InboundAcks;
  readonly #entry: Entry;
  #settled = false;

  constructor(acks: InboundAcks, entry: Entry) {
    this.#acks = acks;
    this.#entry = entry;
  }

  ack(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#acks.settle(this.#entry);
  }

  nack({ requeue }: { requeue: boolean }): void {
    if (this.#settled) return;
    this.#settled = true;
    if (requeue) this.#acks.redeliver(this as unknown as InboundMessage, this.#entry);
    else this.#acks.settle(this.#entry);
  }
}

export class InboundAcks {
  readonly #pubacks: Entry[] = [];
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;
  readonly #write: (bytes: Uint8Array) => void;
  readonly #redeliveryDelayMs: number;
  readonly #deliver: (message: InboundMessage) => void;

  /** `deliver` hands a message to the app; a requeued one comes back through it. */
  constructor(
    write: (bytes: Uint8Array) => void,
    redeliveryDelayMs: number,
    deliver: (message: InboundMessage) => void,
  ) {
    this.#write = write;
    this.#redeliveryDelayMs = redeliveryDelayMs;
    this.#deliver = deliver;
  }

  /** A QoS 1 ack is held ahead: mqtt.js must not ack the next one itself. */
  get blocking(): boolean {
    return this.#pubacks.length > 0;
  }

  /** Queue the PUBACK of a QoS 1 message that may go out once its turn comes. */
  pass(messageId: number): void {
    this.#pubacks.push({ messageId, done: true });
    this.#flush();
  }

  /** Queue the PUBACK of a QoS 1 message until the app acks it: the message to fill in and
   *  deliver, with `ack` and `nack` bound to that PUBACK. */
  hold(messageId: number): Omit<InboundMessage, "topic" | "payload"> {
    const entry: Entry = { messageId, done: false };
    this.#pubacks.push(entry);
    return new HeldMessage(this, entry);
  }

  /** The connection is gone: held acks die with it (the broker redelivers those messages). */
  close(): void {
    this.#closed = true;
    this.#pubacks.length = 0;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  settle(entry: Entry): void {
    if (this.#closed || entry.done) return;
    entry.done = true;
    this.#flush();
  }

  /** nack with requeue: the PUBACK stays held; the app gets the message again, marked redelivered. */
  redeliver(message: InboundMessage, entry: Entry): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#closed) return;
      const again = Object.assign(new HeldMessage(this, entry), message, { redelivered: true });
      this.#deliver(again as unknown as InboundMessage);
    }, this.#redeliveryDelayMs);
    this.#timers.add(timer);
  }

  #flush(): void {
    let sent = 0;
    while (sent < this.#pubacks.length && this.#pubacks[sent]!.done) {
      this.#write(puback(this.#pubacks[sent]!.messageId));
      sent++;
    }
    if (sent > 0) this.#pubacks.splice(0, sent);
  }
}
