/**
 * The gate's WebSocket listener (spec §2.1, §8 items 1–3), standing in for Go's
 * golang.org/x/net/websocket: any path, no Origin check, no permessage-deflate, a
 * `Sec-WebSocket-Protocol` response header on every upgrade (echo rule per profile, empty when
 * nothing was offered), inbound text and binary frames read as one byte stream, outbound binary
 * frames cut the way the gate's 2 KiB buffered writer cuts them, or split/coalesced at random.
 */

import { createServer, type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";
import type { Connection, Transport } from "./connection.js";
import { concatBytes } from "./packets.js";
import { type MqantProfile, subprotocolEcho } from "./profile.js";
import type { Listener } from "./tcp.js";

/** Go's HTTP header limit (1 KiB) plus the 4 KiB slack its reader allows. */
const MAX_HEADER_BYTES = 1024 + 4096;
/** Size of the buffered writer between the MQTT writer and the WebSocket conn. */
const WRITE_BUFFER_BYTES = 2048;
/** After our close frame, how long to wait for the client's before dropping TCP. */
const CLOSE_GRACE_MS = 200;

export interface WsListenerOptions {
  readonly host: string;
  readonly profile: MqantProfile;
  /** Split and coalesce outbound bytes across frames at random (checklist 3). */
  readonly fragmentFrames: boolean;
}

/**
 * Go's bufio.Writer: each Write fills the 2 KiB buffer (flushing a full frame when it overflows,
 * or writing a large chunk straight through when the buffer is empty); a packet ends with Flush.
 * Every underlying write is one WebSocket frame.
 */
export function bufferedFrames(parts: readonly Uint8Array[], size = WRITE_BUFFER_BYTES): Uint8Array[] {
  const frames: Uint8Array[] = [];
  const buf = new Uint8Array(size);
  let n = 0;
  for (let p of parts) {
    while (p.length > size - n) {
      if (n === 0) {
        frames.push(p);
        p = p.subarray(p.length);
        break;
      }
      const take = size - n;
      buf.set(p.subarray(0, take), n);
      frames.push(buf.slice(0, size));
      n = 0;
      p = p.subarray(take);
    }
    buf.set(p, n);
    n += p.length;
  }
  if (n > 0) frames.push(buf.slice(0, n));
  return frames;
}

/** Cut a byte run into random pieces, mostly small, so packets straddle frames. */
function randomCuts(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    const left = data.length - at;
    const size = Math.min(left, 1 + Math.floor(Math.random() ** 2 * left));
    out.push(data.subarray(at, at + size));
    at += size;
  }
  return out;
}

function firstRawHeader(req: IncomingMessage, name: string): string | undefined {
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === name) return raw[i + 1]!.trim();
  }
  return undefined;
}

export async function startWsListener(
  opts: WsListenerOptions,
  accept: (t: Transport) => Connection,
): Promise<Listener> {
  const offered = new WeakMap<IncomingMessage, string | undefined>();
  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });

  // ws would validate the offered list and echo one token; the gate echoes by its own rule instead.
  wss.on("headers", (headers: string[], req: IncomingMessage) => {
    headers.push(`Sec-WebSocket-Protocol: ${subprotocolEcho(opts.profile, offered.get(req))}`);
  });

  const http = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (_req, res) => {
    res.writeHead(400, { "Content-Type": "text/plain" }).end("Bad Request");
  });
  http.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    offered.set(req, firstRawHeader(req, "sec-websocket-protocol"));
    delete req.headers["sec-websocket-protocol"];
    socket.setNoDelay(true);
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      const ua = req.headers["user-agent"];
      const conn = accept(
        wsTransport(ws, {
          remoteAddress: `${req.socket.remoteAddress ?? ""}:${req.socket.remotePort ?? 0}`,
          ...(ua !== undefined ? { userAgent: ua } : {}),
          fragmentFrames: opts.fragmentFrames,
        }),
      );
      ws.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
        const bytes = Array.isArray(data)
          ? concatBytes(data)
          : data instanceof ArrayBuffer
            ? new Uint8Array(data)
            : data;
        conn.feed(bytes);
      });
      ws.on("error", () => {});
      ws.on("close", () => {
        sockets.delete(ws);
        conn.transportClosed();
      });
    });
  });
  http.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    // Go answers an oversized header block with 431, anything else unparsable with 400.
    const status =
      err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(0, opts.host, () => resolve());
  });
  const address = http.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of sockets) ws.terminate();
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

function wsTransport(
  ws: WebSocket,
  info: { remoteAddress: string; userAgent?: string; fragmentFrames: boolean },
): Transport {
  let pending: Uint8Array[] = [];
  let flushTimer: NodeJS.Timeout | undefined;

  const sendFrame = (frame: Uint8Array) => {
    if (ws.readyState === ws.OPEN) ws.send(frame, { binary: true });
  };
  const flushPending = () => {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    const data = concatBytes(pending);
    pending = [];
    for (const piece of randomCuts(data)) sendFrame(piece);
  };

  return {
    network: "websocket",
    remoteAddress: info.remoteAddress,
    ...(info.userAgent !== undefined ? { userAgent: info.userAgent } : {}),
    write(parts) {
      if (!info.fragmentFrames) {
        for (const frame of bufferedFrames(parts)) sendFrame(frame);
        return;
      }
      // Hold bytes for a random moment so later packets can share a frame with this one.
      pending.push(concatBytes(parts));
      flushTimer ??= setTimeout(flushPending, Math.random() * 3);
    },
    close() {
      if (pending.length > 0) flushPending();
      // x/net sends a close frame (presumably 1000) and then closes the TCP socket.
      ws.close(1000);
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    },
    destroy() {
      clearTimeout(flushTimer);
      pending = [];
      ws.terminate();
    },
  };
}
