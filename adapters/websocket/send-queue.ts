/**
 * The client's send path: frames go to the socket at once while it keeps up, and otherwise wait
 * here, in order, until its `bufferedAmount` is below `socketBufferBytes` again. A frame whose
 * signal aborts before it was sent is withdrawn. Frames are also paced to the hub's announced
 * rate (a token bucket a little below it), so the hub never drops them.
 *
 * Nothing here bounds memory: a frame waits as its text either way, and its sender's promise
 * settles only once the socket took it, so whoever awaits sends is held back by the socket.
 */
import { GmqError } from "gmq";

/** What the queue needs of a socket (browser WebSocket and `ws` alike). */
export interface SendTarget {
  readonly bufferedAmount: number;
  send(text: string): void;
}

export interface SendQueue {
  /** Resolves once the frame is handed to the socket. */
  push(text: string, signal?: AbortSignal): Promise<void>;
  /** The hub announced its rate (in `connected`). */
  setRate(rate: { perSecond: number; burst: number }): void;
  /** Frames that do not count against the rate (`pong`), straight to the socket. */
  sendNow(text: string): void;
  /** The connection is gone: fail what waits, and stop. */
  fail(error: GmqError): void;
}

interface Item {
  readonly text: string;
  resolve(): void;
  reject(error: unknown): void;
  /** Removes the listener on its signal. */
  done?: () => void;
}

const SENT = Promise.resolve();

/** Why something waiting on `signal` stopped. */
export const aborted = (signal: AbortSignal) => GmqError.from(signal.reason, "aborted");

export interface SendLimits {
  readonly socketBufferBytes: number;
  /** Called before each frame is handed to the socket (Node: `corkTurn`). */
  readonly beforeSend?: (socket: SendTarget) => void;
}

export function sendQueue(socket: SendTarget, limits: SendLimits): SendQueue {
  let queue: Item[] = [];
  let tokens = 1;
  let burst = 1;
  let perMs = Infinity;
  let refilledAt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failed: GmqError | undefined;

  const full = () => socket.bufferedAmount > limits.socketBufferBytes;
  const send = (text: string) => {
    limits.beforeSend?.(socket);
    socket.send(text);
  };

  /** One token of the rate, if the socket has room and there is one now. */
  const take = () => {
    if (full()) return false;
    if (tokens < 1) {
      const now = Date.now();
      tokens = Math.min(burst, tokens + (now - refilledAt) * perMs);
      refilledAt = now;
      if (tokens < 1) return false;
    }
    tokens--;
    return true;
  };

  const drain = () => {
    timer = undefined;
    for (let item = queue[0]; item && !failed; item = queue[0]) {
      // A backed-up socket is looked at again soon (browsers have no drain event); otherwise
      // wait for the next token.
      if (!take()) {
        timer = setTimeout(drain, full() ? 5 : Math.max(1, Math.ceil((1 - tokens) / perMs)));
        return;
      }
      queue.shift();
      item.done?.();
      try {
        send(item.text);
        item.resolve();
      } catch (error) {
        item.reject(GmqError.from(error, "disconnected"));
      }
    }
  };

  return {
    push(text, signal) {
      if (failed) return Promise.reject(failed);
      if (!queue.length && take()) {
        send(text);
        return SENT;
      }
      return new Promise((resolve, reject) => {
        const item: Item = { text, resolve, reject };
        if (signal) {
          const abort = () => {
            queue = queue.filter((other) => other !== item);
            reject(aborted(signal));
          };
          if (signal.aborted) return abort();
          signal.addEventListener("abort", abort);
          item.done = () => signal.removeEventListener("abort", abort);
        }
        queue.push(item);
        timer ??= setTimeout(drain);
      });
    },
    // Pace a little below the hub's rate, in half its burst: frames may arrive bunched after a
    // network stall.
    setRate(rate) {
      perMs = (rate.perSecond * 0.9) / 1000;
      tokens = burst = Math.max(1, Math.floor(rate.burst / 2));
      refilledAt = Date.now();
    },
    sendNow(text) {
      if (!failed) send(text);
    },
    fail(error) {
      failed ??= error;
      clearTimeout(timer);
      for (const item of queue) {
        item.done?.();
        item.reject(error);
      }
      queue = [];
    },
  };
}
