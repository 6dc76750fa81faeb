/**
 * One connection to a gmq hub: the WebSocket, the `connect` handshake, requests matched to their
 * answers by `rid`, the send queue, and the heartbeat the hub drives (protocol §4, §9, §11).
 */
import { GmqError } from "gmq";
import WebSocket from "isomorphic-ws";
import { closeError, wireError } from "./errors.js";
import {
  type ClientFrame,
  CloseCode,
  type ConnectedFrame,
  type HubFrame,
  type MessageFrame,
  type RequestFrame,
  SUBPROTOCOL,
} from "./protocol.js";
import { WEBSOCKET_REASONS } from "./reasons.js";
import { SendQueue, type SendTarget } from "./send-queue.js";

/** What a link tells its transport. Called only while the link is alive. */
export interface LinkEvents {
  message(frame: MessageFrame): void;
  request(frame: RequestFrame): void;
  /** The hub ended a subscription itself (`unsubscribed` without `rid`). */
  ended(sub: string, error: GmqError): void;
  /** Something went wrong that did not close the link. */
  error(error: GmqError): void;
  /** A frame arrived (the refresh timer checks the wall clock then too). */
  activity(): void;
}

export interface LinkOptions {
  readonly url: string;
  readonly token: string | undefined;
  readonly clientId: string | undefined;
  readonly client: { name?: string; version?: string };
  readonly maxQueuedBytes: number;
  readonly socketBufferBytes: number;
}

interface Pending {
  resolve(frame: HubFrame): void;
  reject(error: GmqError): void;
}

type Answer = Extract<HubFrame, { rid: string | number }>;
type Request = Exclude<ClientFrame, { type: "connect" | "ping" | "pong" | "ack" | "nack" | "response" }>;
type WithoutRid<T> = T extends unknown ? Omit<T, "rid"> : never;

const encoder = new TextEncoder();

/**
 * In Node (`ws`), frames written during one turn of the event loop leave in one write: the TCP
 * socket is corked at the first frame and uncorked once the turn's I/O is handled (a burst of
 * acks or publishes costs one system call, not one each). Browsers batch by themselves.
 */
function batchingTarget(socket: WebSocket): SendTarget {
  let corked = false;
  return {
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    send(text: string) {
      const raw = (socket as unknown as { _socket?: { cork?(): void; uncork?(): void } })._socket;
      if (!corked && raw?.cork && raw.uncork && typeof setImmediate === "function") {
        corked = true;
        raw.cork();
        setImmediate(() => {
          corked = false;
          raw.uncork!();
        });
      }
      socket.send(text);
    },
  };
}

export class HubLink {
  /** The hub's `connected` frame: its limits, `lastSeq`, `expiresAt`. */
  connected!: ConnectedFrame;
  /** Set once the link is gone; what it failed with. */
  lost: GmqError | undefined;
  /** Told once when the link is lost after `open` resolved. */
  onLost: (error: GmqError) => void = () => {};
  private readonly queue: SendQueue;
  private readonly pending = new Map<number, Pending>();
  private nextRid = 1;
  private deadline = Number.POSITIVE_INFINITY;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private closedByUs = false;

  private constructor(
    private readonly socket: WebSocket,
    private readonly events: LinkEvents,
    options: LinkOptions,
  ) {
    this.queue = new SendQueue(batchingTarget(socket), options);
  }

  /** Opens a socket, sends `connect` and resolves on `connected`; rejects with why it could not. */
  static open(options: LinkOptions, events: LinkEvents, signal: AbortSignal): Promise<HubLink> {
    return new Promise<HubLink>((resolve, reject) => {
      if (signal.aborted) return reject(GmqError.from(signal.reason, "aborted"));
      let socket: WebSocket;
      try {
        socket = new WebSocket(options.url, [SUBPROTOCOL]);
      } catch (cause) {
        return reject(new GmqError("invalid_argument", `url: cannot open "${options.url}"`, { cause }));
      }
      const link = new HubLink(socket, events, options);
      let settled = false;
      const fail = (error: GmqError) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        link.shutdown(error, CloseCode.normal);
        reject(error);
      };
      const onAbort = () => fail(GmqError.from(signal.reason, "aborted"));
      signal.addEventListener("abort", onAbort, { once: true });
      socket.onopen = () => {
        if (socket.protocol !== SUBPROTOCOL) {
          // A hub of another version: trying again with the same offer cannot help (§2).
          return fail(
            new GmqError("unsupported", `the server did not select the ${SUBPROTOCOL} subprotocol`, {
              reason: WEBSOCKET_REASONS.unsupported_protocol,
            }),
          );
        }
        const connect: ClientFrame = {
          type: "connect",
          ...(options.token !== undefined && { token: options.token }),
          ...(options.clientId !== undefined && { clientId: options.clientId }),
          client: options.client,
        };
        socket.send(JSON.stringify(connect));
      };
      socket.onerror = () => {}; // the close that follows says what happened
      socket.onclose = (event) => {
        if (!settled) return fail(closeError(event.code, event.reason, link.closedByUs));
        link.shutdown(closeError(event.code, event.reason, link.closedByUs));
      };
      socket.onmessage = (event) => {
        const frame = link.parse(event.data);
        if (!frame) return;
        if (settled) return link.dispatch(frame);
        if (frame.type === "connected") {
          settled = true;
          signal.removeEventListener("abort", onAbort);
          link.ready(frame);
          resolve(link);
        } else if (frame.type === "error" && frame.rid === undefined) {
          fail(wireError(frame, "the hub refused to connect"));
        }
      };
    });
  }

  get alive(): boolean {
    return this.lost === undefined;
  }

  /** Sends a request and resolves with the hub's answer; rejects with its `error` as a GmqError. */
  request(frame: WithoutRid<Request>, signal?: AbortSignal): Promise<Answer> {
    const rid = this.nextRid++;
    const answer = new Promise<HubFrame>((resolve, reject) => {
      if (signal?.aborted) return reject(GmqError.from(signal.reason, "aborted"));
      const onAbort = () => {
        this.pending.delete(rid);
        reject(GmqError.from(signal!.reason, "aborted"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.set(rid, {
        resolve: (frame) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(frame);
        },
        reject: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      });
    });
    this.send({ ...frame, rid } as ClientFrame, signal).catch((error: GmqError) => {
      this.pending.get(rid)?.reject(error);
      this.pending.delete(rid);
    });
    return answer as Promise<Answer>;
  }

  /**
   * Queues a frame; resolves once it is handed to the socket. Checks the heartbeat deadline
   * against the wall clock first (a tab that slept through its timers must not write into a dead
   * socket) and refuses a frame over the hub's `maxFrameBytes`.
   */
  send(frame: ClientFrame, signal?: AbortSignal): Promise<void> {
    if (this.lost) return Promise.reject(this.lost);
    if (Date.now() > this.deadline) {
      this.heartbeatLost();
      return Promise.reject(this.lost!);
    }
    const text = JSON.stringify(frame);
    const max = this.connected.maxFrameBytes;
    if (text.length * 3 > max && encoder.encode(text).byteLength > max) {
      return Promise.reject(
        new GmqError("payload_too_large", `payload: the frame is over the hub's ${max} bytes`, {
          field: "payload",
          reason: WEBSOCKET_REASONS.frame_too_large,
        }),
      );
    }
    return this.queue.push(text, signal);
  }

  /** Closes the link on purpose; `onLost` is not told. */
  close(code: number = CloseCode.normal, reason = ""): Promise<void> {
    this.onLost = () => {};
    const closed = new Promise<void>((resolve) => {
      if (this.socket.readyState === WebSocket.CLOSED) return resolve();
      const done = () => resolve();
      this.socket.addEventListener("close", done);
      // A dead network can keep the closing handshake from finishing.
      setTimeout(done, 1_000);
    });
    this.shutdown(new GmqError("disconnected", "closed by the app"), code, reason);
    return closed;
  }

  private ready(connected: ConnectedFrame): void {
    // A hub that leaves limits out: the protocol defaults (the hub enforces its own anyway).
    connected.limits ??= { maxSubscriptions: 512, maxInFlight: 1000, maxCallTimeoutMs: 60_000 };
    connected.maxFrameBytes ??= Number.POSITIVE_INFINITY;
    this.connected = connected;
    if (connected.rate) this.queue.setRate(connected.rate);
    const window = connected.pingIntervalMs + connected.pingGraceMs;
    this.deadline = Date.now() + window;
    const every = Math.max(20, Math.min(1_000, Math.floor(window / 4)));
    this.heartbeat = setInterval(() => {
      if (Date.now() > this.deadline) this.heartbeatLost();
    }, every);
  }

  private heartbeatLost(): void {
    this.shutdown(
      new GmqError("disconnected", "no frame from the hub within its ping interval and grace", {
        reason: WEBSOCKET_REASONS.heartbeat_timeout,
      }),
      CloseCode.heartbeatTimeout,
      "heartbeat timeout",
    );
  }

  private parse(data: unknown): HubFrame | undefined {
    // Any frame shows the hub is alive (§9).
    if (this.connected)
      this.deadline = Date.now() + this.connected.pingIntervalMs + this.connected.pingGraceMs;
    let frame: unknown;
    try {
      frame = typeof data === "string" ? JSON.parse(data) : undefined;
    } catch {
      frame = undefined;
    }
    if (
      typeof frame !== "object" ||
      frame === null ||
      typeof (frame as { type?: unknown }).type !== "string"
    ) {
      // A hub we cannot understand: drop the connection and start afresh (§15.11).
      const error = new GmqError("protocol", "the hub sent a frame that is not a JSON object with a type", {
        reason: WEBSOCKET_REASONS.malformed_frame,
      });
      if (this.connected) this.events.error(error);
      this.shutdown(error, CloseCode.protocolError, "malformed frame");
      return undefined;
    }
    return frame as HubFrame;
  }

  private dispatch(frame: HubFrame): void {
    this.events.activity();
    switch (frame.type) {
      case "ping":
        // From the message handler, never a timer: browsers throttle timers, not messages (§9).
        this.queue.sendNow('{"type":"pong"}');
        return;
      case "message":
        this.events.message(frame);
        return;
      case "request":
        this.events.request(frame);
        return;
      case "error":
        if (frame.rid === undefined) this.events.error(wireError(frame, "the hub reported an error"));
        else this.settle(frame.rid, undefined, wireError(frame, "the hub refused the request"));
        return;
      case "unsubscribed":
        if (frame.rid !== undefined) this.settle(frame.rid, frame);
        else {
          const error = frame.error
            ? wireError(frame.error, "the hub ended the subscription")
            : new GmqError("disconnected", "the hub ended the subscription");
          this.events.ended(frame.sub, error);
        }
        return;
      case "puback":
      case "subscribed":
      case "reply":
      case "handling":
      case "unhandled":
      case "refreshed":
        this.settle(frame.rid, frame);
        return;
      default:
        return; // pong, and frames of later versions: ignored (§3)
    }
  }

  private settle(rid: string | number, frame: HubFrame | undefined, error?: GmqError): void {
    if (typeof rid !== "number") return;
    const pending = this.pending.get(rid);
    if (!pending) return;
    this.pending.delete(rid);
    if (error) pending.reject(error);
    else pending.resolve(frame!);
  }

  /** Ends everything of this link once: the socket, the queue, what waits for an answer. */
  private shutdown(error: GmqError, code?: number, reason = ""): void {
    if (this.lost) return;
    this.lost = error;
    clearInterval(this.heartbeat);
    const failure =
      error.code === "disconnected" ? error : new GmqError("disconnected", error.message, { cause: error });
    this.queue.fail(failure);
    for (const pending of this.pending.values()) pending.reject(failure);
    this.pending.clear();
    const socket = this.socket;
    socket.onmessage = null;
    if (code !== undefined && socket.readyState !== WebSocket.CLOSED) {
      this.closedByUs = true;
      try {
        socket.close(code, reason);
      } catch {
        // already closing
      }
    }
    this.onLost(error);
  }
}
