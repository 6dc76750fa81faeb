/**
 * One TCP connection to a gmq node (spec §3): command lines out (with their length-prefixed
 * item), frames in. Replies come in request order, so each reply settles the oldest pending
 * request; 104 (channel data) and 105 (heartbeat) frames are unsolicited. After a 102 answering
 * `pub`, a fatal error or anything unexpected the stream may be out of step: the socket is
 * destroyed (spec §3.3), and every pending request fails with `disconnected`.
 */
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";
import { GmqError } from "gmq";
import { badReply, nodeError, unreachable } from "../gnode-http/reasons.js";
import { FrameDecoder } from "./frames.js";

/** Error codes after which the node closes the connection (§3.1 "F"). */
const FATAL = /^E_INVALID_(PARAMS|READ|TOPIC|BINDKEY|CHANNEL|PUSHNUM|SET) - /;

interface Pending {
  readonly line: string;
  /** `pub`: any error leaves the stream out of step. */
  readonly push: boolean | undefined;
  resolve(payload: Buffer): void;
  reject(error: GmqError): void;
}

export interface SocketOptions {
  /** Gets the 104 frames (a socket subscribed to a channel). */
  readonly channel?: (payload: Buffer) => void;
  /** A request that hears nothing (not even a 105 heartbeat) for this long fails the socket. */
  readonly heartbeatMs?: number;
}

export class NodeSocket {
  readonly socket: Socket;
  readonly address: string;
  readonly #pending: Pending[] = [];
  readonly #channel;
  #corked = false;
  #failure: GmqError | undefined;
  #end!: (error: GmqError) => void;
  /** When the last frame arrived, or a request was sent on an idle socket. */
  #heard = Date.now();
  /** Settles with the failure once the connection is gone. */
  readonly closed = new Promise<GmqError>((resolve) => {
    this.#end = resolve;
  });

  /** Connects; `signal` aborting destroys the socket, at any time. */
  constructor(host: string, port: number, signal: AbortSignal, { channel, heartbeatMs }: SocketOptions) {
    this.address = `${host}:${port}`;
    this.#channel = channel;
    const socket = connect({ host, port });
    this.socket = socket;
    const decoder = new FrameDecoder((type, payload) => this.#frame(type, payload));
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on("data", (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (error) {
        this.destroy(GmqError.from(error));
      }
    });
    socket.on("error", (error) => this.destroy(this.#lost(error.message, error)));
    socket.on("close", () => this.destroy(this.#lost("connection closed")));
    const abort = (): void => this.destroy(GmqError.from(signal.reason, "aborted"));
    signal.addEventListener("abort", abort);
    if (signal.aborted) abort();
    const watch =
      heartbeatMs &&
      setInterval(
        () => {
          if (this.#pending.length > 0 && Date.now() - this.#heard > heartbeatMs) {
            this.destroy(
              new GmqError("disconnected", `gnode ${this.address}: no heartbeat for ${heartbeatMs} ms`, {
                reason: "HEARTBEAT_LOST",
              }),
            );
          }
        },
        Math.max(50, heartbeatMs / 5),
      );
    void this.closed.then(() => {
      signal.removeEventListener("abort", abort);
      clearInterval(watch);
    });
  }

  /** Resolves once connected; rejects with `disconnected` when the node cannot be reached. */
  async connected(): Promise<this> {
    await new Promise((resolve, reject) => {
      this.socket.once("connect", resolve);
      void this.closed.then(reject);
    });
    return this;
  }

  /** Sends one command line (and its item); resolves with the payload of its 101/103 reply. */
  request(line: string, item?: string, push?: boolean): Promise<Buffer> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      if (this.#pending.push({ line, push, resolve, reject }) === 1) this.#heard = Date.now();
      const socket = this.socket;
      if (!this.#corked) {
        // Everything written in this tick goes out in one packet.
        this.#corked = true;
        socket.cork();
        process.nextTick(() => {
          this.#corked = false;
          socket.uncork();
        });
      }
      if (item === undefined) return void socket.write(`${line}\n`);
      // The line, then the item as `[u32 BE length][bytes]`, in one buffer.
      const head = Buffer.byteLength(line) + 1;
      const size = Buffer.byteLength(item);
      const data = Buffer.allocUnsafe(head + 4 + size);
      data.write(`${line}\n`);
      data.writeUInt32BE(size, head);
      data.write(item, head + 4);
      socket.write(data);
    });
  }

  destroy(error = unreachable("connection closed by the client")): void {
    if (this.#failure) return;
    this.#failure = error;
    this.socket.destroy();
    for (const p of this.#pending.splice(0)) p.reject(error);
    this.#end(error);
  }

  #lost(why: string, cause?: unknown): GmqError {
    return unreachable(`gnode ${this.address}: ${why}`, cause);
  }

  #frame(type: number, payload: Buffer): unknown {
    this.#heard = Date.now();
    if (type === 105) return;
    if (type === 104) return this.#channel?.(payload);
    const request = this.#pending.shift();
    if (!request) return this.destroy(badReply("gnode", `an unexpected frame of type ${type}`));
    if (type !== 102) return request.resolve(payload);
    const text = `${payload}`;
    const error = nodeError(text, `gnode ${request.line.split(" ", 1)[0]}`);
    request.reject(error);
    if (request.push || FATAL.test(text) || !text.startsWith("E_INVALID_")) {
      this.destroy(
        new GmqError("disconnected", `gnode ${this.address}: reconnecting after "${text}"`, {
          reason: "NODE_ERROR",
          cause: error,
        }),
      );
    }
  }
}
