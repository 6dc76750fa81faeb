/**
 * An embedded MQTT broker (aedes, MQTT 3.1.1) with a TCP and a WebSocket listener on free
 * loopback ports, for tests and local development. `stop()`/`restart()` take the listeners down
 * and up again on the same ports while the broker keeps its state, like a broker restarted over
 * persistent storage: persistent sessions and their queued messages survive.
 */

import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket } from "node:net";
import type { Aedes, AedesOptions } from "aedes";
import { createWebSocketStream, type WebSocket, WebSocketServer } from "ws";
import { keepPacketIdsUnique } from "./unique-packet-ids.js";

export interface BrokerOptions {
  /** Passed to aedes (authenticate, authorizePublish…). */
  aedes?: AedesOptions;
  /** Fixed ports instead of free ones. */
  tcpPort?: number;
  wsPort?: number;
  host?: string;
}

export interface EmbeddedBroker extends AsyncDisposable {
  /** `mqtt://127.0.0.1:<port>` */
  readonly tcpUrl: string;
  /** `ws://127.0.0.1:<port>/mqtt` */
  readonly wsUrl: string;
  readonly tcpPort: number;
  readonly wsPort: number;
  readonly aedes: Aedes;
  /** Drop every client connection; the listeners stay up. */
  dropConnections(): void;
  /** Take both listeners down and drop every connection (the broker keeps its sessions). */
  stop(): Promise<void>;
  /** Listen again on the same ports. */
  restart(): Promise<void>;
  readonly listening: boolean;
  /** Stop for good. */
  close(): Promise<void>;
}

export async function startBroker(options: BrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? "127.0.0.1";
  // Loaded here, not at import: aedes is an optional peer, and only this function needs it.
  const { Aedes: AedesBroker } = await import("aedes");
  const aedes = await AedesBroker.createBroker(options.aedes);
  keepPacketIdsUnique(aedes);
  const sockets = new Set<Socket>();
  const webSockets = new Set<WebSocket>();
  let tcp: Server | undefined;
  let wss: WebSocketServer | undefined;
  let tcpPort = options.tcpPort ?? 0;
  let wsPort = options.wsPort ?? 0;
  let closed = false;

  const listenTcp = (): Promise<number> =>
    new Promise((resolve, reject) => {
      // No Nagle: a test broker should not add 40 ms to every small request/reply.
      const server = createServer({ noDelay: true }, (socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        // A reset from a client being killed must not surface as an unhandled error.
        socket.on("error", () => {});
        aedes.handle(socket);
      });
      server.once("error", reject);
      server.listen(tcpPort, host, () => {
        server.off("error", reject);
        tcp = server;
        resolve((server.address() as AddressInfo).port);
      });
    });

  const listenWs = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const server = new WebSocketServer({ host, port: wsPort });
      server.once("error", reject);
      server.on("connection", (ws, request) => {
        webSockets.add(ws);
        ws.on("close", () => webSockets.delete(ws));
        const stream = createWebSocketStream(ws);
        stream.on("error", () => {});
        aedes.handle(stream, request);
      });
      server.once("listening", () => {
        server.off("error", reject);
        wss = server;
        resolve((server.address() as AddressInfo).port);
      });
    });

  const dropConnections = (): void => {
    for (const socket of sockets) socket.destroy();
    for (const ws of webSockets) ws.terminate();
  };

  const stop = async (): Promise<void> => {
    const servers = [tcp, wss];
    tcp = undefined;
    wss = undefined;
    dropConnections();
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            if (!server) resolve();
            else server.close(() => resolve());
          }),
      ),
    );
  };

  const restart = async (): Promise<void> => {
    if (closed) throw new Error("broker is closed");
    if (tcp || wss) return;
    tcpPort = await listenTcp();
    wsPort = await listenWs();
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await stop();
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
  };

  await restart();
  return {
    tcpUrl: `mqtt://${host}:${tcpPort}`,
    wsUrl: `ws://${host}:${wsPort}/mqtt`,
    tcpPort,
    wsPort,
    aedes,
    dropConnections,
    stop,
    restart,
    get listening() {
      return tcp !== undefined;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
