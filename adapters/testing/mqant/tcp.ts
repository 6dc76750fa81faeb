/**
 * The gate's plain TCP listener (spec §2.1): an MQTT byte stream per socket.
 */

import { createServer, type Server, type Socket } from "node:net";
import type { Connection, Transport } from "./connection.js";
import { concatBytes } from "./packets.js";

export interface Listener {
  readonly port: number;
  close(): Promise<void>;
}

/** Accepts sockets on `host`:0 and hands each one, wrapped as a Transport, to `accept`. */
export async function startTcpListener(
  host: string,
  accept: (t: Transport) => Connection,
): Promise<Listener> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const conn = accept(tcpTransport(socket));
    socket.on("data", (chunk: Buffer) => conn.feed(chunk));
    socket.on("error", () => {});
    socket.on("close", () => {
      sockets.delete(socket);
      conn.transportClosed();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function tcpTransport(socket: Socket): Transport {
  return {
    network: "tcp",
    remoteAddress: `${socket.remoteAddress ?? ""}:${socket.remotePort ?? 0}`,
    write(parts) {
      if (!socket.destroyed && socket.writable) socket.write(concatBytes(parts));
    },
    close() {
      // Like Go's conn.Close(): what was already written still goes out, then FIN.
      socket.destroySoon();
    },
    destroy() {
      socket.destroy();
    },
  };
}
