/**
 * One TCP connection to a gmq node (spec §3): command lines out (with their length-prefixed
 * items), frames in. Replies come in request order, so each reply settles the oldest pending
 * request; 104 (channel data) and 105 (heartbeat) frames are unsolicited. After a 102 answering
 * `pub`/`mpub`, a fatal error or anything unexpected the stream may be out of step: the socket is
 * destroyed (spec §3.3), and every pending request fails with `disconnected`.
 */
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";
import { GmqError } from "gmq";
import { badReply, GNODE_REASONS, nodeError } from "../gnode-http/reasons.js";
import { CHANNEL, ERROR, FrameDecoder, MESSAGE, PING, RESULT, withLength } from "./frames.js";

/** Error codes after which the node closes the connection (§3.1 "F"). */
const FATAL = /^E_INVALID_(PARAMS|READ|TOPIC|BINDKEY|CHANNEL|PUSHNUM|SET) - /;

interface Pending {
  /** `pub`/`mpub`: any error leaves the stream out of step. */
  readonly push: boolean;
  readonly what: string;
  resolve(payload: Buffer): void;
  reject(error: GmqError): void;
}

export interface SocketEvents {
  /** A 104 frame (only on a socket subscribed to a channel). */
  channel?(payload: Buffer): void;
  /** The connection is gone (once). */
  closed(error: GmqError): void;
}

export class NodeSocket {
  private readonly pending: Pending[] = [];
  private readonly decoder: FrameDecoder;
  private corked = false;
  private failure: GmqError | undefined;
  /** When the last frame arrived (heartbeats included). */
  lastFrameAt = Date.now();

  private constructor(
    readonly socket: Socket,
    readonly address: string,
    private readonly events: SocketEvents,
  ) {
    this.decoder = new FrameDecoder((type, payload) => this.frame(type, payload));
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on("data", (chunk: Buffer) => {
      try {
        this.decoder.push(chunk);
      } catch (error) {
        this.destroy(GmqError.from(error));
      }
    });
    socket.on("error", (error) => this.destroy(this.lost(error.message, error)));
    socket.on("close", () => this.destroy(this.lost("connection closed")));
  }

  /** Opens a connection; rejects with `disconnected` when the node cannot be reached. */
  static open(host: string, port: number, events: SocketEvents, signal?: AbortSignal): Promise<NodeSocket> {
    const address = `${host}:${port}`;
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const abort = (): void => void socket.destroy(GmqError.from(signal!.reason, "aborted"));
      const failed = (error: Error): void => {
        signal?.removeEventListener("abort", abort);
        reject(
          signal?.aborted
            ? GmqError.from(signal.reason, "aborted")
            : new GmqError("disconnected", `gnode: cannot reach ${address}: ${error.message}`, {
                cause: error,
              }),
        );
      };
      signal?.addEventListener("abort", abort, { once: true });
      socket.once("error", failed);
      socket.once("connect", () => {
        socket.off("error", failed);
        signal?.removeEventListener("abort", abort);
        resolve(new NodeSocket(socket, address, events));
      });
    });
  }

  get isOpen(): boolean {
    return this.failure === undefined;
  }

  /** Pending requests (a blocked `pop` is one). */
  get busy(): number {
    return this.pending.length;
  }

  /** Sends one command line (and its items); resolves with the payload of its 101/103 reply. */
  request(line: string, items?: readonly Buffer[], push = false): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.push({ push, what: `gnode ${line.slice(0, line.indexOf(" "))}`, resolve, reject });
      if (!this.corked) {
        // Everything written in this tick goes out in one packet.
        this.corked = true;
        this.socket.cork();
        process.nextTick(() => {
          this.corked = false;
          this.socket.uncork();
        });
      }
      this.socket.write(`${line}\n`);
      if (items) for (const item of items) for (const part of withLength(item)) this.socket.write(part);
    });
  }

  destroy(error: GmqError = new GmqError("disconnected", "connection closed by the client")): void {
    if (this.failure) return;
    this.failure = error;
    this.socket.destroy();
    for (const p of this.pending.splice(0)) p.reject(error);
    this.events.closed(error);
  }

  private lost(why: string, cause?: unknown): GmqError {
    return new GmqError("disconnected", `gnode ${this.address}: ${why}`, { cause });
  }

  private frame(type: number, payload: Buffer): unknown {
    this.lastFrameAt = Date.now();
    if (type === PING) return;
    if (type === CHANNEL) return this.events.channel?.(payload);
    const request = this.pending.shift();
    if (!request) return this.destroy(badReply("gnode", `an unexpected frame of type ${type}`));
    if (type === MESSAGE || type === RESULT) return request.resolve(payload);
    const text = payload.toString("utf8");
    const error =
      type === ERROR ? nodeError(text, request.what) : badReply(request.what, `frame type ${type}`);
    request.reject(error);
    if (type !== ERROR || request.push || FATAL.test(text) || !text.startsWith("E_INVALID_")) {
      this.destroy(
        new GmqError("disconnected", `gnode ${this.address}: reconnecting after "${text}"`, {
          reason: GNODE_REASONS.NODE_ERROR,
          cause: error,
        }),
      );
    }
  }
}

/** `Buffer` of a string, for items. */
export const bytes = (text: string): Buffer => Buffer.from(text, "utf8");
