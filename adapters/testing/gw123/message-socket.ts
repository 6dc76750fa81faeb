/**
 * startGw123MessageSocket(): the legacy `/message?moduleName=<name>` WebSocket of the web module
 * (spec §4, routed June to September 2019), on Go's x/net/websocket rules: a mandatory Origin,
 * one slot per moduleName, `auth` answered with `auth_reply`, every other frame published onto
 * the bus and nothing ever sent back, and a silent drop on a frame that fails to decode.
 */

import { Buffer } from "node:buffer";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";
import { type TestClock as Clock, systemClock } from "../clock.js";
import { goJson } from "../mqant/go-json.js";
import { envelope, sendJson } from "./http/echo.js";
import { decodeRequestEvent, encodeServerEvent, eventMsgId, randomUint64 } from "./message-frame.js";

/** An event a `/message` client put on the bus. */
export interface PublishedEvent {
  /** The connection's `moduleName` query parameter. */
  readonly moduleName: string;
  readonly eventName: string;
  /** The frame's Payload string (the bus event's bytes). */
  readonly payload: string;
  readonly msgId: string;
  readonly sourceModuleName: string;
  readonly dstModuleName: string;
  /** Sent by the client, never checked. */
  readonly token: string;
}

export interface Gw123MessageSocketOptions {
  readonly host?: string;
  readonly port?: number;
  /** For the `h:m:s:n` MsgId of auth_reply and stop. Default Date.now. */
  readonly clock?: Clock;
}

export interface Gw123MessageSocket extends AsyncDisposable {
  /** `ws://<host>:<port>/message`; add `?moduleName=<name>`. */
  readonly url: string;
  readonly port: number;
  /** Events published so far, oldest first. Frames with an empty EventName never reach the bus. */
  readonly published: readonly PublishedEvent[];
  /** Called for each published event; returns an unsubscribe function. */
  onPublish(listener: (event: PublishedEvent) => void): () => void;
  /** moduleNames with an open connection. */
  moduleNames(): string[];
  /** Drop every connection with no close frame (fault injection). */
  dropAll(): void;
  close(): Promise<void>;
}

/** Go 1.12's 1 MiB read buffer: a longer message is read cut, fails to decode, and drops the socket. */
const READ_BUFFER = 1024 * 1024;
const STOP_PAYLOAD = "新的同名模块连接到来";

/** x/net/websocket's Origin check: the header must parse as a request URI (`null` does not). */
function originAccepted(origin: string | undefined): boolean {
  if (!origin) return false;
  if (origin.startsWith("/")) return true;
  try {
    new URL(origin);
    return origin !== "null";
  } catch {
    return false;
  }
}

function rawResponse(socket: Socket, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\n\r\n`);
}

export async function startGw123MessageSocket(
  options: Gw123MessageSocketOptions = {},
): Promise<Gw123MessageSocket> {
  const clock = options.clock ?? systemClock;
  const published: PublishedEvent[] = [];
  const listeners = new Set<(event: PublishedEvent) => void>();
  /** moduleName → latest socket. Entries are never removed, as upstream. */
  const registry = new Map<string, WebSocket>();
  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (protocols) => [...protocols][0] ?? false,
  });

  const send = (ws: WebSocket, eventName: string, payload: string) => {
    if (ws.readyState === ws.OPEN) ws.send(encodeServerEvent(eventName, payload, eventMsgId(clock)));
  };

  const serve = (ws: WebSocket, moduleName: string) => {
    sockets.add(ws);
    const previous = registry.get(moduleName);
    if (previous) {
      send(previous, "stop", STOP_PAYLOAD);
      previous.close(1000);
    }
    registry.set(moduleName, ws);
    ws.on("close", () => sockets.delete(ws));
    ws.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
      const bytes = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data);
      const event = bytes.length > READ_BUFFER ? undefined : decodeRequestEvent(bytes.toString("utf8"));
      if (!event) {
        // The read loop ends and the TCP connection closes: no close frame (browsers see 1006).
        ws.terminate();
        return;
      }
      if (event.EventName === "auth") {
        send(ws, "auth_reply", randomUint64());
        return;
      }
      // The bus drops events without a name.
      if (event.EventName === "") return;
      const record: PublishedEvent = {
        moduleName,
        eventName: event.EventName,
        payload: event.Payload,
        msgId: event.MsgId,
        sourceModuleName: event.SourcModuleName,
        dstModuleName: event.DstModuleName,
        token: event.Token,
      };
      published.push(record);
      for (const listener of listeners) listener(record);
    });
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== "/message") return sendJson(res, 500, { msg: "code=404, message=Not Found" });
    if (req.method !== "GET") return sendJson(res, 500, { msg: "code=405, message=Method Not Allowed" });
    sendJson(res, 500, envelope(1, "非法请求", null));
  });

  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== "/message" || req.headers.upgrade?.toLowerCase() !== "websocket") {
      // What echo answers a plain request with (see the request handler below).
      const body = goJson(
        url.pathname !== "/message" ? { msg: "code=404, message=Not Found" } : envelope(1, "非法请求", null),
      );
      socket.end(
        `HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json; charset=UTF-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body) + 1}\r\nConnection: close\r\n\r\n${body}\n`,
      );
      return;
    }
    if (!originAccepted(req.headers.origin)) return rawResponse(socket, "403 Forbidden");
    // x/net/websocket refuses to pick one of several offered subprotocols.
    const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").filter((p) => p.trim() !== "");
    if (offered.length > 1) return rawResponse(socket, "400 Bad Request");
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws, url.searchParams.get("moduleName") ?? ""));
  });

  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };

  return {
    url: `ws://${host.includes(":") ? `[${host}]` : host}:${port}/message`,
    port,
    published,
    onPublish: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    moduleNames: () => [...registry].filter(([, ws]) => sockets.has(ws)).map(([name]) => name),
    dropAll: () => {
      for (const ws of sockets) ws.terminate();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
