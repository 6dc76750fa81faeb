/**
 * `createHub`: the gmq WebSocket hub. It serves the `gmq.v1.json` protocol on an HTTP server's
 * upgrade path (its own, or one you pass), keeps its connections, and shares everything else
 * with other hubs through its engine.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import { Connection, type ConnectionContext } from "./connection.js";
import type { EngineSession } from "./engine.js";
import { Handlers } from "./handlers.js";
import { memoryEngine } from "./memory-engine.js";
import { type HubOptions, resolveLimits } from "./options.js";
import { CloseCode, SUBPROTOCOL } from "./protocol.js";
import { Router } from "./router.js";

export interface Hub extends AsyncDisposable {
  /** `ws://host:port/path` of this hub. */
  readonly url: string;
  readonly port: number;
  readonly name: string;
  /** Open connections now. */
  readonly connections: number;
  /**
   * Stop accepting, close every connection with 4100 (clients reconnect elsewhere at once), detach
   * from the engine, and close the HTTP server if the hub made it. Waits up to `timeoutMs`
   * (default 2 s) for clients to finish the close handshake, then cuts the rest.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
}

export async function createHub(options: HubOptions = {}): Promise<Hub> {
  const limits = resolveLimits(options.limits);
  const heartbeat = {
    intervalMs: options.heartbeat?.intervalMs ?? 25_000,
    graceMs: options.heartbeat?.graceMs ?? 10_000,
  };
  const path = options.path ?? "/gmq";
  if (!path.startsWith("/")) throw new TypeError(`path: must start with "/", got "${path}"`);
  const name = options.name ?? randomBytes(4).toString("hex");
  const onError = options.onError ?? (() => {});
  const connections = new Set<Connection>();
  let sessions = 0;
  let closing = false;

  let session: EngineSession | undefined;
  const engineSession = (): EngineSession => {
    if (!session) throw new Error("hub engine not attached");
    return session;
  };
  const router = new Router(
    engineSession,
    { maxMessages: limits.maxPendingMessages, maxAgeMs: 60_000 },
    onError,
  );
  const handlers = new Handlers(engineSession, onError);
  session = await (options.engine ?? memoryEngine()).attach({
    deliver: (interest, message, redelivered) => router.deliver(interest, message, redelivered),
    takeRequeued: (interest, message) => router.takeRequeued(interest, message),
    serveCall: (request) => handlers.serve(request),
    handles: (service, method) => handlers.has(service, method),
  });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxFrameBytes,
    perMessageDeflate: false,
    handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });

  const ownServer = options.server === undefined;
  const server: Server = options.server ?? createServer((_req, res) => res.writeHead(426).end());
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = (request.url ?? "/").split("?")[0];
    if (pathname !== path) {
      // On a shared server another listener may own this path.
      if (ownServer) socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
      return;
    }
    socket.on("error", () => socket.destroy());
    wss.handleUpgrade(request, socket, head, (ws) => {
      if (closing) return ws.close(CloseCode.shutdown, "hub shutting down");
      if (ws.protocol !== SUBPROTOCOL) {
        return ws.close(CloseCode.unsupportedProtocol, `supported subprotocols: ${SUBPROTOCOL}`);
      }
      const ctx: ConnectionContext = {
        engine: engineSession(),
        router,
        handlers,
        limits,
        heartbeat,
        authenticate: options.authenticate,
        authorize: options.authorize,
        session: `${name}-${(++sessions).toString(36)}`,
        onError,
        onClosed: (connection) => connections.delete(connection),
      };
      connections.add(new Connection(ws, request, ctx));
    });
  };
  server.on("upgrade", onUpgrade);

  if (ownServer) {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  }
  const address = server.address() as AddressInfo | null;
  const port = address?.port ?? 0;
  const host =
    address && address.family === "IPv6" ? `[${address.address}]` : (address?.address ?? "127.0.0.1");
  const url = `ws://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${port}${path}`;

  let closed: Promise<void> | undefined;
  const close = (closeOptions: { timeoutMs?: number } = {}): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      server.off("upgrade", onUpgrade);
      const sockets = [...wss.clients];
      const gone = sockets.map(
        (ws) =>
          new Promise<void>((resolve) =>
            ws.readyState === ws.CLOSED ? resolve() : ws.once("close", () => resolve()),
          ),
      );
      for (const connection of [...connections]) connection.close(CloseCode.shutdown, "hub shutting down");
      for (const ws of sockets)
        if (ws.readyState === ws.OPEN) ws.close(CloseCode.shutdown, "hub shutting down");
      const timeoutMs = closeOptions.timeoutMs ?? 2_000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(gone),
        new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await engineSession().close().catch(onError);
      if (ownServer) await new Promise<void>((resolve) => server.close(() => resolve()));
    })();
    return closed;
  };

  return {
    url,
    port,
    name,
    get connections() {
      return connections.size;
    },
    close,
    [Symbol.asyncDispose]: () => close(),
  };
}
