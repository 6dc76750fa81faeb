/**
 * One connection to a gmq hub: the WebSocket, the `connect` handshake, requests matched to their
 * answers by `rid`, acks batched per tick, the send queue, and the heartbeat the hub drives
 * (protocol §4, §9, §11).
 */
import { GmqError } from "gmq";
import WebSocket from "isomorphic-ws";
import { closeError, wireError } from "./errors.js";
import { encoder } from "./payload.js";
import {
  type ClientFrame,
  type ConnectedFrame,
  type ErrorFrame,
  type HubFrame,
  SUBPROTOCOL,
} from "./protocol.js";
import { aborted, type SendLimits, type SendQueue, sendQueue } from "./send-queue.js";

export interface LinkOptions extends SendLimits {
  readonly url: string;
  readonly token: string | undefined;
  readonly clientId: string | undefined;
  readonly client: { name?: string; version?: string };
}

/** What the link tells its transport, only while it is alive: each frame that is not an answer
 *  to a request (`message`, `request`, `unsubscribed` or `error` without `rid`, `pong`, frames
 *  of later versions). */
export type LinkEvents = (frame: HubFrame, link: HubLink) => void;

export type Answer = Extract<HubFrame, { rid: string | number }>;
type WithoutRid<T> = T extends unknown ? Omit<T, "rid"> : never;
type Request = WithoutRid<
  Exclude<ClientFrame, { type: "connect" | "ping" | "pong" | "ack" | "nack" | "response" }>
>;

export interface HubLink {
  /** The hub's `connected` frame: its limits, `lastSeq`, `expiresAt`. */
  readonly connected: ConnectedFrame;
  readonly alive: boolean;
  /** Told once when the link is lost after it opened (not after `close`). */
  onLost: (error: GmqError) => void;
  /** Sends a request and resolves with the hub's answer; rejects with its `error` as a GmqError. */
  request(frame: Request, signal?: AbortSignal): Promise<Answer>;
  /**
   * Queues a frame; resolves once it is handed to the socket. Checks the heartbeat deadline
   * against the wall clock first (a tab that slept through its timers must not write into a dead
   * socket) and refuses a frame over the hub's `maxFrameBytes`.
   */
  send(frame: ClientFrame, signal?: AbortSignal): Promise<void>;
  /** Acks a delivery: the tags acked during one tick leave in one `ack` frame (§5.1). */
  ack(tag: number): void;
  /** Closes the link on purpose. */
  close(): Promise<void>;
}

/** Opens a socket, sends `connect` and resolves on `connected`; rejects with why it could not. */
export function openLink(options: LinkOptions, onFrame: LinkEvents, signal: AbortSignal): Promise<HubLink> {
  const socket = new WebSocket(options.url, [SUBPROTOCOL]);
  const queue: SendQueue = sendQueue(socket, options);
  const pending = new Map<unknown, (answer?: HubFrame, error?: GmqError) => void>();
  let lost: GmqError | undefined;
  let opened = false;
  let window = 0;
  let deadline = Infinity;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let nextRid = 1;
  let acks: number[] = [];

  /** Ends everything of this link once: the socket, the queue, what waits for an answer. */
  const shutdown = (error: GmqError, code?: number) => {
    if (lost) return;
    lost = error;
    clearInterval(heartbeat);
    signal.removeEventListener("abort", onAbort);
    const failure =
      error.code === "disconnected" ? error : new GmqError("disconnected", error.message, { cause: error });
    queue.fail(failure);
    for (const settle of pending.values()) settle(undefined, failure);
    socket.onmessage = null;
    // The close event that follows finds the link lost already: our own close is never taken
    // for the hub's.
    if (code) socket.close(code);
    link.onLost(error);
  };
  const onAbort = () => shutdown(aborted(signal), 1000);

  /** The hub's heartbeat deadline, checked against the wall clock on a timer and before every
   *  send: a tab that slept through its timers must not write into a dead socket (§9). */
  const expired = () =>
    Date.now() > deadline &&
    shutdown(
      new GmqError("disconnected", "no frame from the hub in time", {
        reason: "heartbeat_timeout",
      }),
      4200,
    );

  const send = (frame: ClientFrame, signal?: AbortSignal): Promise<void> => {
    expired();
    if (lost) return Promise.reject(lost);
    const text = JSON.stringify(frame);
    const max = link.connected.maxFrameBytes;
    return text.length * 3 > max && encoder.encode(text).length > max
      ? Promise.reject(
          new GmqError("payload_too_large", `payload: the frame is over the hub's ${max} bytes`, {
            field: "payload",
            reason: "frame_too_large",
          }),
        )
      : queue.push(text, signal);
  };

  const link: { -readonly [K in keyof HubLink]: HubLink[K] } = {
    connected: undefined as unknown as ConnectedFrame,
    get alive() {
      return !lost;
    },
    onLost: () => {},
    send,
    request(frame, signal) {
      const rid = nextRid++;
      return new Promise((resolve, reject) => {
        const settle = (answer?: HubFrame, error?: GmqError) => {
          pending.delete(rid);
          signal?.removeEventListener("abort", stop);
          if (error) reject(error);
          else resolve(answer as Answer);
        };
        const stop = () => settle(undefined, aborted(signal!));
        if (signal?.aborted) return stop();
        signal?.addEventListener("abort", stop);
        pending.set(rid, settle);
        send({ ...frame, rid } as ClientFrame, signal).catch((error) => settle(undefined, error));
      });
    },
    ack(tag) {
      if (acks.push(tag) === 1) {
        queueMicrotask(() => {
          send({ type: "ack", tags: acks }).catch(() => {});
          acks = [];
        });
      }
    },
    close() {
      link.onLost = () => {};
      shutdown(new GmqError("disconnected", "closed by the app"), 1000);
      return new Promise<void>((resolve) => {
        // A dead network can keep the closing handshake from finishing.
        setTimeout(resolve, socket.readyState > 2 ? 0 : 1_000);
        socket.addEventListener("close", () => resolve());
      });
    },
  };

  return new Promise<HubLink>((resolve, reject) => {
    link.onLost = reject;
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort);
    socket.onopen = () => {
      const { token, clientId, client } = options;
      socket.send(JSON.stringify({ type: "connect", token, clientId, client, batch: true }));
    };
    socket.onerror = () => {}; // the close that follows says what happened
    socket.onclose = (event) => shutdown(closeError(event.code, event.reason, false));
    socket.onmessage = ({ data }) => {
      // Any frame shows the hub is alive (§9).
      deadline = Date.now() + window;
      let frames: HubFrame[] | undefined;
      try {
        // One frame, or a batch (§2).
        frames = [JSON.parse(data as string)].flat();
      } catch {}
      if (!frames?.every((frame) => typeof frame?.type === "string")) {
        // A hub we cannot understand: drop the connection and start afresh (§15.11).
        return shutdown(
          new GmqError("protocol", "the hub sent a malformed frame", {
            reason: "malformed_frame",
          }),
          4000,
        );
      }
      for (const frame of frames) {
        if (lost) return;
        const rid = (frame as { rid?: unknown }).rid;
        if (opened) {
          // A ping is answered from the message handler, never a timer: browsers throttle
          // timers, not messages (§9).
          if (frame.type === "ping") queue.sendNow('{"type":"pong"}');
          if (rid === undefined) {
            onFrame(frame, link);
          } else {
            const answer = frame.type !== "error" ? frame : undefined;
            pending.get(rid)?.(answer, answer ? undefined : wireError(frame as ErrorFrame, "refused"));
          }
        } else if (frame.type === "connected") {
          opened = true;
          signal.removeEventListener("abort", onAbort);
          link.onLost = () => {};
          queue.setRate(frame.rate);
          link.connected = frame;
          window = frame.pingIntervalMs + frame.pingGraceMs;
          deadline = Date.now() + window;
          heartbeat = setInterval(expired, Math.min(1_000, window / 4));
          resolve(link);
        }
      }
    };
  });
}
