/**
 * The client's send path: frames go to the socket at once while it keeps up, and otherwise wait
 * here, in order. The queue is bounded (`maxQueuedBytes`): past it a sender waits for room (or
 * gives up when its signal aborts), so nothing grows without limit. Frames are also paced to the
 * hub's announced rate (a token bucket a little below it), so the hub never drops them.
 */
import { GmqError } from "gmq";

/** What the queue needs of a socket (browser WebSocket and `ws` alike). */
export interface SendTarget {
  readonly bufferedAmount: number;
  send(text: string): void;
}

interface Queued {
  readonly text: string;
  resolve(): void;
  reject(error: GmqError): void;
}

interface RoomWaiter {
  readonly size: number;
  resolve(): void;
}

/** How often a backed-up socket is looked at again (browsers have no drain event). */
const POLL_MS = 5;
/** Pace a little below the hub's limit: frames may arrive bunched after a network stall. */
const RATE_SHARE = 0.9;

export class SendQueue {
  private readonly queue: Queued[] = [];
  private head = 0;
  private queuedBytes = 0;
  private readonly roomWaiters: RoomWaiter[] = [];
  private tokens: number;
  private refilledAt = Date.now();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private failed: GmqError | undefined;
  private perMs: number;
  private burst: number;

  constructor(
    private readonly socket: SendTarget,
    private readonly limits: { readonly maxQueuedBytes: number; readonly socketBufferBytes: number },
    rate: { perSecond: number; burst: number } = { perSecond: Number.POSITIVE_INFINITY, burst: 1 },
  ) {
    this.perMs = (rate.perSecond * RATE_SHARE) / 1000;
    this.burst = Math.max(1, Math.floor(rate.burst / 2));
    this.tokens = this.burst;
  }

  /** The hub announced its rate (in `connected`). */
  setRate(rate: { perSecond: number; burst: number }): void {
    this.perMs = (rate.perSecond * RATE_SHARE) / 1000;
    this.burst = Math.max(1, Math.floor(rate.burst / 2));
    this.tokens = this.burst;
  }

  get length(): number {
    return this.queue.length - this.head;
  }

  /** Resolves once the frame is handed to the socket; waits for room when the queue is full. */
  async push(text: string, signal?: AbortSignal): Promise<void> {
    if (this.failed) throw this.failed;
    if (this.length === 0 && this.take()) {
      this.socket.send(text);
      return;
    }
    const size = text.length;
    if (this.queuedBytes > 0 && this.queuedBytes + size > this.limits.maxQueuedBytes) {
      await this.room(size, signal);
    }
    return new Promise<void>((resolve, reject) => {
      this.queuedBytes += size;
      this.queue.push({ text, resolve, reject });
      this.schedule(0);
    });
  }

  /** Frames that do not count against the rate (`pong`), straight to the socket. */
  sendNow(text: string): void {
    if (!this.failed) this.socket.send(text);
  }

  /** The connection is gone: fail what waits, and stop. */
  fail(error: GmqError): void {
    if (this.failed) return;
    this.failed = error;
    clearTimeout(this.timer);
    for (let i = this.head; i < this.queue.length; i++) this.queue[i]!.reject(error);
    this.queue.length = 0;
    this.head = 0;
    for (const waiter of this.roomWaiters.splice(0)) waiter.resolve();
  }

  /** One token of the rate, if there is one now. */
  private take(): boolean {
    if (this.socket.bufferedAmount > this.limits.socketBufferBytes) return false;
    if (this.tokens < 1) {
      const now = Date.now();
      this.tokens = Math.min(this.burst, this.tokens + (now - this.refilledAt) * this.perMs);
      this.refilledAt = now;
      if (this.tokens < 1) return false;
    }
    this.tokens--;
    return true;
  }

  private schedule(ms: number): void {
    if (this.timer !== undefined || this.failed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain();
    }, ms);
  }

  private drain(): void {
    while (this.length > 0) {
      if (this.failed) return;
      if (!this.take()) {
        const wait =
          this.socket.bufferedAmount > this.limits.socketBufferBytes
            ? POLL_MS
            : Math.ceil((1 - this.tokens) / this.perMs);
        this.schedule(Math.max(1, wait));
        break;
      }
      const item = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as Queued;
      this.queuedBytes -= item.text.length;
      try {
        this.socket.send(item.text);
        item.resolve();
      } catch (error) {
        item.reject(GmqError.from(error, "disconnected"));
      }
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.wakeRoom();
  }

  private room(size: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(GmqError.from(signal.reason, "aborted"));
    return new Promise<void>((resolve, reject) => {
      const waiter: RoomWaiter = {
        size,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          if (this.failed) reject(this.failed);
          else resolve();
        },
      };
      const onAbort = () => {
        this.roomWaiters.splice(this.roomWaiters.indexOf(waiter), 1);
        reject(GmqError.from(signal!.reason, "aborted"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.roomWaiters.push(waiter);
    });
  }

  private wakeRoom(): void {
    while (this.roomWaiters.length > 0) {
      const next = this.roomWaiters[0]!;
      if (this.queuedBytes > 0 && this.queuedBytes + next.size > this.limits.maxQueuedBytes) return;
      this.roomWaiters.shift();
      next.resolve();
    }
  }
}
