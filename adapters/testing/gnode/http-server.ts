/**
 * The HTTP listener (spec §2, §7.1 #2): paths match exactly after unescaping, any method runs
 * the handler (OPTIONS and HEAD included), no CORS, `404 not found` and `/ping` as text, and no
 * server-side timeouts at all (Go's server has none).
 */

import { Buffer } from "node:buffer";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { GnodeBroker } from "./broker.js";
import { goJsonString } from "./go-values.js";
import { HTTP_HANDLERS, type HttpExchange } from "./http-api.js";
import {
  type BodyKind,
  formBodyKind,
  formValue,
  goUnescape,
  MAX_MULTIPART_BYTES,
  MAX_URLENCODED_BYTES,
  parseGoQuery,
} from "./http-form.js";

export interface HttpListener {
  readonly server: Server;
  readonly port: number;
  /** While true, new connections are dropped at once (a restarting node). */
  down: boolean;
  /** Destroy every open connection (requests in progress get no response); resolves once all closed. */
  dropConnections(): Promise<void>;
  close(): Promise<void>;
}

const TEXT = "text/plain; charset=utf-8";

/** Apply `end` to each socket and resolve when every one of them has closed. */
export function closeAll(sockets: Socket[], end: (s: Socket) => void): Promise<void> {
  return Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.closed) return resolve();
          s.once("close", () => resolve());
          end(s);
        }),
    ),
  ).then(() => undefined);
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "Content-Type": TEXT, "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

/** The request target split like Go's url.ParseRequestURI: unescaped path, raw query. */
function target(url: string): { path: string | undefined; rawQuery: Buffer } {
  let rest = url;
  if (!rest.startsWith("/")) {
    const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?]*/.exec(rest);
    rest = scheme ? rest.slice(scheme[0].length) || "/" : rest;
  }
  const q = rest.indexOf("?");
  const rawPath = Buffer.from(q < 0 ? rest : rest.slice(0, q), "latin1");
  const path = goUnescape(rawPath, false);
  return { path: path?.toString("utf8"), rawQuery: Buffer.from(q < 0 ? "" : rest.slice(q + 1), "latin1") };
}

/** Read the body the way FormValue would, keeping at most `limit + 1` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<{ bytes: Buffer; tooLarge: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      if (size <= limit) chunks.push(chunk);
      size += chunk.length;
    });
    const done = () => resolve({ bytes: Buffer.concat(chunks), tooLarge: size > limit });
    req.on("end", done);
    req.on("error", done);
    req.on("close", done);
  });
}

export async function startHttpListener(
  broker: GnodeBroker,
  host: string,
  port: number,
): Promise<HttpListener> {
  const sockets = new Set<Socket>();
  const server = createServer({ requestTimeout: 0, headersTimeout: 0 }, (req, res) =>
    handle(broker, req, res),
  );
  server.keepAliveTimeout = 0;
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.timeout = 0;
  const listener: HttpListener = {
    server,
    port: 0,
    down: false,
    dropConnections: () => closeAll([...sockets], (s) => s.destroy()),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on("connection", (socket: Socket) => {
    if (listener.down) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  (listener as { port: number }).port = typeof address === "object" && address ? address.port : port;
  return listener;
}

function handle(broker: GnodeBroker, req: IncomingMessage, res: ServerResponse): void {
  const { path, rawQuery } = target(req.url ?? "/");
  if (path === undefined) {
    res.writeHead(400, { "Content-Type": TEXT, Connection: "close" });
    res.end("400 Bad Request");
    return;
  }
  if (path === "/ping") {
    text(res, 200, "OK");
    return;
  }
  const handler = Object.hasOwn(HTTP_HANDLERS, path) ? HTTP_HANDLERS[path] : undefined;
  if (!handler) {
    text(res, 404, "not found");
    return;
  }

  const method = req.method ?? "GET";
  const contentType = req.headers["content-type"];
  const kind: BodyKind = formBodyKind(method, contentType);
  let body: Promise<{ bytes: Buffer; tooLarge: boolean }> | undefined;
  const query = parseGoQuery(rawQuery);
  const exchange: HttpExchange = {
    query,
    formValue: (key) => {
      if (kind !== "ignored") {
        body ??= readBody(req, kind === "urlencoded" ? MAX_URLENCODED_BYTES : MAX_MULTIPART_BYTES);
      }
      return (body ?? Promise.resolve({ bytes: Buffer.alloc(0), tooLarge: false })).then((b) =>
        formValue(key, query, kind, b, contentType),
      );
    },
    reply: (code, dataJson, msg) => {
      if (res.headersSent || res.destroyed) return;
      const json = `{"code":${code},"data":${dataJson},"msg":${goJsonString(msg)}}`;
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(json) });
      res.end(json);
    },
    abort: () => {
      req.socket.destroy();
    },
  };
  Promise.resolve(handler(broker, exchange)).then(
    (r) => r && exchange.reply(r.code, r.data, r.msg),
    () => req.socket.destroy(),
  );
}
