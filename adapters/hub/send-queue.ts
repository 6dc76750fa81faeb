/**
 * A bounded outgoing queue for one connection. What the hub sends a connection during one turn of
 * the event loop is collected and written once the turn's I/O is handled: as one WebSocket
 * message holding a JSON array of the frames when the client asked for batches (`connect.batch`,
 * protocol §2), else frame by frame on a corked socket. Either way a burst of deliveries costs
 * one write per connection, not one system call per frame.
 *
 * Frames go straight to the socket while its `bufferedAmount` is below `socketBufferBytes`;
 * beyond that they wait here. A consumer is slow (and `onSlow` fires once) when the queue exceeds
 * `maxQueuedBytes`, or has not emptied for `slowConsumerMs`: one slow reader must never hold the
 * hub's memory or its other clients.
 */
import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";

const DRAIN_EVERY_MS = 10;
/** A batch is written once it would grow past this many characters, without waiting for the turn's end. */
const MAX_BATCH_CHARS = 64 * 1024;

/** Queues holding frames of this turn. */
const waiting: SendQueue[] = [];

function endTurn(): void {
  for (const queue of waiting.splice(0)) queue.flushTurn();
}

export class SendQueue {
  /** The client reads batches (`connect.batch`). */
  batching = false;
  private readonly queue: string[] = [];
  private head = 0;
  private queuedBytes = 0;
  private backedUpSince = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  /** Frames of this turn, and their characters. */
  private turn: string[] | undefined;
  private turnChars = 0;

  constructor(
    private readonly socket: WebSocket,
    /** The TCP (or TLS) socket under `socket`, corked while frames are written one by one. */
    private readonly raw: Duplex,
    private readonly limits: { socketBufferBytes: number; maxQueuedBytes: number; slowConsumerMs: number },
    private readonly onSlow: () => void,
  ) {}

  send(text: string): void {
    if (this.stopped) return;
    if (!this.turn) {
      this.turn = [];
      this.turnChars = 0;
      if (waiting.push(this) === 1) setImmediate(endTurn);
    } else if (this.turnChars + text.length > MAX_BATCH_CHARS) {
      this.flushTurn();
      this.turn = [];
      this.turnChars = 0;
    }
    this.turn.push(text);
    this.turnChars += text.length;
  }

  /** Writes the frames of this turn (at its end, or when they fill a batch). */
  flushTurn(): void {
    const frames = this.turn;
    this.turn = undefined;
    if (!frames || this.stopped) return;
    if (frames.length === 1) this.write(frames[0]!);
    else if (this.batching) this.write(`[${frames.join(",")}]`);
    else {
      this.raw.cork();
      for (const text of frames) this.write(text);
      this.raw.uncork();
    }
  }

  private write(text: string): void {
    if (this.head === this.queue.length && this.socket.bufferedAmount < this.limits.socketBufferBytes) {
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

  /** Write everything queued to the socket now, ignoring its buffer (before a polite close). */
  flushAll(): void {
    this.flushTurn();
    while (this.head < this.queue.length) this.socket.send(this.queue[this.head++]!);
    this.stop();
  }

  /** Drop everything queued and send nothing more. */
  stop(): void {
    this.stopped = true;
    this.turn = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.head = 0;
    this.queuedBytes = 0;
  }

  private drain(): void {
    this.raw.cork();
    while (this.head < this.queue.length && this.socket.bufferedAmount < this.limits.socketBufferBytes) {
      const text = this.queue[this.head]!;
      this.queue[this.head++] = "";
      this.queuedBytes -= text.length;
      this.socket.send(text);
    }
    this.raw.uncork();
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
