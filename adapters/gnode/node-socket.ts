/**
 * One TCP connection to a gmq node (spec §3): command lines out (with their length-prefixed
 * item), frames in. Replies come in request order, so each reply settles the oldest pending
 * request; 104 (channel data) and 105 (heartbeat) frames are unsolicited. After a 102 answering
 * `pub`, a fatal error or anything unexpected the stream may be out of step: the socket is
 * destroyed (spec §3.3), and every pending request fails with `disconnected`.
 */
import { connect } from "node:net";
import { GmqError } from "gmq";
import { badReply, nodeError, unreachable } from "../gnode-http/reasons.js";
import { frameDecoder } from "./frames.js";

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

export type NodeSocket = Awaited<ReturnType<typeof openSocket>>;

/**
 * Connects; resolves once connected, rejects with `disconnected` when the node cannot be reached.
 * `signal` aborting destroys the socket, at any time.
 */
export async function openSocket(host: string, port: number, signal: AbortSignal, options: SocketOptions) {
  const address = `${host}:${port}`;
  const socket = connect({ host, port });
  const pending: Pending[] = [];
  let corked = false;
  let failure: GmqError | undefined;
  let end!: (error: GmqError) => void;
  const lost = (why: string, cause?: unknown) => unreachable(`gnode ${address}: ${why}`, cause);
  const destroy = (error = unreachable("connection closed by the client")): void => {
    if (failure) return;
    failure = error;
    socket.destroy();
    for (const p of pending.splice(0)) p.reject(error);
    end(error);
  };
  const frame = (type: number, payload: Buffer): unknown => {
    if (type === 105) return;
    if (type === 104) return options.channel?.(payload);
    const request = pending.shift();
    if (!request) return destroy(badReply("gnode", `an unexpected frame of type ${type}`));
    if (type !== 102) return request.resolve(payload);
    const text = `${payload}`;
    const error = nodeError(text, `gnode ${request.line.split(" ", 1)[0]}`);
    request.reject(error);
    if (request.push || FATAL.test(text) || !text.startsWith("E_INVALID_")) {
      destroy(
        new GmqError("disconnected", `gnode ${address}: reconnecting after "${text}"`, {
          reason: "NODE_ERROR",
          cause: error,
        }),
      );
    }
  };
  /** Settles with the failure once the connection is gone. */
  const closed = new Promise<GmqError>((resolve) => {
    end = resolve;
  });
  const decode = frameDecoder(frame);
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 10_000);
  socket.on("data", (chunk: Buffer) => {
    try {
      decode(chunk);
    } catch (error) {
      destroy(GmqError.from(error));
    }
  });
  socket.on("error", (error) => destroy(lost(error.message, error)));
  socket.on("close", () => destroy(lost("connection closed")));
  const abort = (): void => destroy(GmqError.from(signal.reason, "aborted"));
  signal.addEventListener("abort", abort);
  if (signal.aborted) abort();
  const { heartbeatMs } = options;
  if (heartbeatMs) {
    // Node's idle timeout: it counts every write (the request) and every read (a frame, a 105).
    // Idle without a request is fine: the next request's write arms it again.
    socket.setTimeout(heartbeatMs);
    socket.on("timeout", () => {
      if (pending.length > 0) {
        destroy(
          new GmqError("disconnected", `gnode ${address}: no heartbeat for ${heartbeatMs} ms`, {
            reason: "HEARTBEAT_LOST",
          }),
        );
      }
    });
  }
  void closed.then(() => signal.removeEventListener("abort", abort));
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    void closed.then(reject);
  });
  return {
    socket,
    closed,
    destroy,
    /** Sends one command line (and its items); resolves with the payload of its 101/103 reply. */
    request(line: string, item?: string | readonly string[], push?: boolean): Promise<Buffer> {
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        pending.push({ line, push, resolve, reject });
        if (!corked) {
          // Everything written in this tick goes out in one packet.
          corked = true;
          socket.cork();
          process.nextTick(() => {
            corked = false;
            socket.uncork();
          });
        }
        if (item === undefined) return void socket.write(`${line}\n`);
        // The line, then each item as `[u32 BE length][bytes]`, in one buffer.
        const items = typeof item === "string" ? [item] : item;
        const sizes = items.map((text) => Buffer.byteLength(text));
        let at = Buffer.byteLength(line) + 1;
        const data = Buffer.allocUnsafe(at + sizes.reduce((n, size) => n + 4 + size, 0));
        data.write(`${line}\n`);
        items.forEach((text, i) => {
          data.writeUInt32BE(sizes[i]!, at);
          data.write(text, at + 4);
          at += 4 + sizes[i]!;
        });
        socket.write(data);
      });
    },
  };
}
