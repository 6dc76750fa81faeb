/**
 * One pull consumer of the memory broker: the stream a `stream`-shaped memory transport opens
 * for a subscription. It hands messages over only while the subscription has credit (like a
 * queue's pop loop), and on its end gives back everything it did not finish, so nothing is lost.
 */
import {
  GmqError,
  type InboundMessage,
  type OutboundMessage,
  type StreamSink,
  type SubscribeRequest,
  type TransportSubscribeOptions,
} from "gmq";

export interface StreamHost {
  /** The stream ended: what it held goes back to the broker for the next consumer. */
  release(stream: MemoryStream, leftovers: OutboundMessage[]): void;
}

export class MemoryStream {
  /** Waiting to be handed over, oldest first. */
  private readonly backlog: OutboundMessage[] = [];
  /** Handed over with manual ack, not acked yet. */
  private readonly unacked = new Map<number, OutboundMessage>();
  private nextTag = 0;
  private wake: (() => void) | undefined;
  private ended = false;
  /** Most messages it held delivered and unsettled at once (for flow-control tests). */
  maxUnsettled = 0;
  private unsettled = 0;
  readonly request: SubscribeRequest;
  private readonly sink: StreamSink;
  private readonly options: TransportSubscribeOptions;

  constructor(
    request: SubscribeRequest,
    options: TransportSubscribeOptions,
    private readonly host: StreamHost,
  ) {
    this.request = request;
    this.options = options;
    this.sink = options.sink;
    options.signal.addEventListener("abort", () => this.finish(), { once: true });
    void this.pump();
  }

  push(message: OutboundMessage): void {
    if (this.ended) return void this.host.release(this, [message]);
    this.backlog.push(message);
    this.wake?.();
  }

  /** Ends it from the broker's side (a fault, the broker going offline). */
  fail(error?: GmqError): void {
    if (this.ended) return;
    this.finish();
    this.sink.end(error);
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.wake?.();
    this.host.release(this, [...this.unacked.values(), ...this.backlog.splice(0)]);
    this.unacked.clear();
  }

  private async pump(): Promise<void> {
    const { signal, flow } = this.options;
    while (!this.ended) {
      if (this.backlog.length === 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
        continue;
      }
      try {
        await flow.ready(signal);
      } catch {
        return; // aborted: finish() gave everything back
      }
      const message = this.backlog.shift();
      if (!message || this.ended) continue;
      this.sink.message(this.inbound(message));
    }
  }

  private inbound(message: OutboundMessage): InboundMessage {
    this.unsettled++;
    this.maxUnsettled = Math.max(this.maxUnsettled, this.unsettled);
    const settle = (): boolean => {
      this.unsettled--;
      return this.unacked.delete(tag);
    };
    const tag = ++this.nextTag;
    const base = {
      topic: message.topic,
      payload: message.payload,
      id: message.id,
      qos: message.qos,
      ...(message.headers && { headers: message.headers }),
    };
    if (!this.request.manualAck) {
      this.unsettled--;
      return base;
    }
    this.unacked.set(tag, message);
    return {
      ...base,
      ack: () => void settle(),
      nack: ({ requeue }) => {
        if (settle() && requeue) this.push(message);
      },
    };
  }
}

/** Why a request on an offline memory broker fails. */
export function unreachable(): GmqError {
  return new GmqError("disconnected", "memory broker is offline");
}
