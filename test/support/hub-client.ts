/**
 * A tiny raw client of the gmq hub protocol for tests: a `ws` socket, every frame it received,
 * and helpers that wait for the next frame matching a predicate. It answers pings unless told
 * not to, and speaks the protocol exactly as the document says, nothing more.
 */
import { WebSocket } from "ws";
import { SUBPROTOCOL } from "../../adapters/hub/protocol.js";

/** Frames are checked field by field in the tests. */
export type Frame = Record<string, any>;

export class HubTestClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  answerPings = true;
  private consumed = new Set<Frame>();
  private waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  private nextRid = 1;

  private constructor(readonly socket: WebSocket) {
    this.closed = new Promise((resolve) =>
      socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    socket.on("error", () => {});
    socket.on("message", (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      if (frame.type === "ping" && this.answerPings) this.send({ type: "pong" });
      this.frames.push(frame);
      for (const waiter of [...this.waiters]) {
        if (!this.consumed.has(frame) && waiter.match(frame)) {
          this.consumed.add(frame);
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(frame);
        }
      }
    });
  }

  static open(url: string, protocols: string[] = [SUBPROTOCOL]): Promise<HubTestClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, protocols);
      socket.once("open", () => resolve(new HubTestClient(socket)));
      socket.once("error", reject);
    });
  }

  /** Opens and completes `connect`; resolves with the `connected` frame. */
  static async connect(
    url: string,
    fields: Frame = {},
  ): Promise<{ client: HubTestClient; connected: Frame }> {
    const client = await HubTestClient.open(url);
    client.send({ type: "connect", ...fields });
    const connected = await Promise.race([
      client.next((f) => f.type === "connected" || f.type === "error"),
      client.closed.then(({ code }) => ({ type: "closed", code })),
    ]);
    return { client, connected };
  }

  send(frame: Frame | string): void {
    this.socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  rid(): number {
    return this.nextRid++;
  }

  /** The first frame not yet taken that matches, waiting up to `timeoutMs`. */
  next(match: (f: Frame) => boolean, timeoutMs = 5_000): Promise<Frame> {
    const found = this.frames.find((f) => !this.consumed.has(f) && match(f));
    if (found) {
      this.consumed.add(found);
      return Promise.resolve(found);
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(
          new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Sends a frame with a fresh `rid` and waits for the hub's answer to it. */
  request(frame: Frame, timeoutMs?: number): Promise<Frame> {
    const rid = this.rid();
    this.send({ ...frame, rid });
    return this.next((f) => f.rid === rid, timeoutMs);
  }

  subscribe(sub: string, pattern: string, options: Frame = {}): Promise<Frame> {
    return this.request({ type: "subscribe", sub, pattern, ...options });
  }

  publish(topic: string, payload: string, options: Frame = {}): Promise<Frame> {
    return this.request({ type: "publish", topic, payload, ...options });
  }

  /** Waits until `count` message frames for `sub` arrived (taking them), oldest first. */
  async messages(sub: string, count: number, timeoutMs = 10_000): Promise<Frame[]> {
    const out: Frame[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < count) {
      out.push(
        await this.next((f) => f.type === "message" && f.sub === sub, Math.max(1, deadline - Date.now())),
      );
    }
    return out;
  }

  /** Message frames for `sub` received so far and not taken. */
  pending(sub: string): Frame[] {
    return this.frames.filter((f) => f.type === "message" && f.sub === sub && !this.consumed.has(f));
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(1000);
    return this.closed;
  }

  /** Kill the TCP connection without a close handshake (a crashed or vanished client). */
  kill(): void {
    this.socket.terminate();
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
