/**
 * The TCP listener: one TcpSession per socket, half-open allowed (a client's FIN ends its input;
 * lines already sent are still answered, like Go reading to EOF).
 */

import { createServer, type Server, type Socket } from "node:net";
import { closeAll } from "./http-server.js";
import { type SessionHost, TcpSession } from "./tcp-session.js";

export interface TcpListener {
  readonly server: Server;
  readonly port: number;
  down: boolean;
  /** Close every connection (`graceful` lets written frames go out first); resolves once all closed. */
  dropConnections(graceful: boolean): Promise<void>;
  readonly sessions: ReadonlySet<TcpSession>;
  close(): Promise<void>;
}

export async function startTcpListener(
  host: SessionHost,
  address: string,
  port: number,
): Promise<TcpListener> {
  const sessions = new Set<TcpSession>();
  const server = createServer({ allowHalfOpen: true }, (socket: Socket) => {
    if (listener.down) {
      socket.destroy();
      return;
    }
    const session = new TcpSession(socket, host);
    sessions.add(session);
    socket.on("close", () => sessions.delete(session));
  });
  const listener: TcpListener = {
    server,
    port: 0,
    down: false,
    sessions,
    dropConnections: (graceful) =>
      closeAll(
        [...sessions].map((s) => s.socket),
        (socket) => (graceful ? socket.destroySoon() : socket.destroy()),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.socket.destroy();
        server.close(() => resolve());
      }),
  };
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address();
  (listener as { port: number }).port = typeof bound === "object" && bound ? bound.port : port;
  return listener;
}
