/**
 * A bounded outgoing queue for one connection. Frames go straight to the socket while its
 * `bufferedAmount` is below `socketBufferBytes`; beyond that they wait here. A consumer is slow
 * (and `onSlow` fires once) when the queue exceeds `maxQueuedBytes`, or has not emptied for
 * `slowConsumerMs`: one slow reader must never hold the hub's memory or its other clients.
 */
import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";

const DRAIN_EVERY_MS = 10;

/**
 * Queues whose socket is corked this turn. Frames written to a connection during one turn of the
 * event loop leave in one write (one system call for a burst of deliveries, not one per frame);
 * every corked socket is uncorked once the turn's I/O is handled.
 */
const corked: SendQueue[] = [];

function uncorkAll(): void {
  for (const queue of corked.splice(0)) queue.uncork();
}

export class SendQueue {
  private readonly queue: string[] = [];
  private head = 0;
  private queuedBytes = 0;
  private backedUpSince = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  private isCorked = false;

  constructor(
    private readonly socket: WebSocket,
    /** The TCP (or TLS) socket under `socket`, corked per turn. */
    private readonly raw: Duplex,
    private readonly limits: { socketBufferBytes: number; maxQueuedBytes: number; slowConsumerMs: number },
    private readonly onSlow: () => void,
  ) {}

  send(text: string): void {
    if (this.stopped) return;
    if (this.head === this.queue.length && this.socket.bufferedAmount < this.limits.socketBufferBytes) {
      this.cork();
      this.socket.send(text);
      return;
    }
    this.queue.push(text);
    this.queuedBytes += text.length;
    if (this.backedUpSince === 0) this.backedUpSince = Date.now();
    if (this.queuedBytes > this.limits.maxQueuedBytes) {
      this.slow();
      return;
    }
    this.timer ??= setInterval(() => this.drain(), DRAIN_EVERY_MS);
  }

  /** Uncorks the socket (end of the turn). */
  uncork(): void {
    this.isCorked = false;
    this.raw.uncork();
  }

  private cork(): void {
    if (this.isCorked) return;
    this.isCorked = true;
    this.raw.cork();
    if (corked.push(this) === 1) setImmediate(uncorkAll);
  }

  /** Write everything queued to the socket now, ignoring its buffer (before a polite close). */
  flushAll(): void {
    while (this.head < this.queue.length) this.socket.send(this.queue[this.head++]!);
    this.stop();
  }

  /** Drop everything queued and send nothing more. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.head = 0;
    this.queuedBytes = 0;
  }

  private drain(): void {
    while (this.head < this.queue.length && this.socket.bufferedAmount < this.limits.socketBufferBytes) {
      const text = this.queue[this.head]!;
      this.queue[this.head++] = "";
      this.queuedBytes -= text.length;
      this.cork();
      this.socket.send(text);
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
      this.backedUpSince = 0;
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (Date.now() - this.backedUpSince > this.limits.slowConsumerMs) this.slow();
  }

  private slow(): void {
    this.stop();
    this.onSlow();
  }
}

/** Token bucket: `perSecond` refill, `burst` capacity. */
export class RateLimiter {
  private tokens: number;
  private last = Date.now();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
