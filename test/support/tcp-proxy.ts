/**
 * A loopback TCP proxy in front of a server, for faults a server cannot make by itself: cut
 * every connection at once (a network drop), or freeze them (a peer that stops answering while
 * its sockets stay open).
 */
import { type AddressInfo, createConnection, createServer, type Socket } from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** `ws://127.0.0.1:<port><path>` for a WebSocket target. */
  url(path: string): string;
  /** Destroy every connection through the proxy now (no close frames: the peers see a reset). */
  cut(): void;
  /** Stop passing bytes (both ways) on the connections open now; new ones still work. */
  freeze(): void;
  /** Stop passing bytes from the server to the client on the connections open now (the client's
   *  frames still arrive; the answers are lost). */
  muteDownstream(): void;
  /** Refuse (reset at once) every new connection while blocked; `block(true)` also cuts. */
  block(blocked: boolean): void;
  /** Connections made so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let connections = 0;
  let blocked = false;
  const server = createServer((client) => {
    if (blocked) {
      client.resetAndDestroy();
      return;
    }
    connections++;
    const upstream = createConnection({ port: targetPort, host: "127.0.0.1" });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const proxy: TcpProxy = {
    port,
    url: (path) => `ws://127.0.0.1:${port}${path}`,
    cut() {
      for (const [client, upstream] of [...pairs]) {
        client.resetAndDestroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    block(value) {
      blocked = value;
      if (value) proxy.cut();
    },
    muteDownstream() {
      for (const [client, upstream] of pairs) {
        upstream.unpipe(client);
        upstream.on("data", () => {}); // read and drop
      }
    },
    freeze() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    get connections() {
      return connections;
    },
    async close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
