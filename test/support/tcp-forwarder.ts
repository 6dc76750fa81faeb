/**
 * A TCP forwarder in front of a server, for network faults the server itself cannot make: going
 * offline (connections refused at once) and back, cutting the server's byte stream after a given
 * number of bytes (mid-frame), and handing the server's bytes over one at a time (split chunks).
 */
import { connect, createServer, type Socket } from "node:net";

export interface TcpForwarder {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  setOnline(online: boolean): void;
  /** The next bytes from the server: forward `bytes` more of them, then drop both sides. */
  cutAfter(bytes: number): void;
  /** Forward the server's bytes one per write (true) or as they come (false). */
  split(on: boolean): void;
  /** Keep the connections but stop forwarding the server's bytes (a silent, half-dead peer). */
  hold(on: boolean): void;
  /** Connections made through it so far. */
  readonly connections: number;
  /** Command lines clients sent through it (the text before each newline, items skipped
   *  roughly: for checking which commands were used, e.g. `mpub`). */
  readonly lines: readonly string[];
  close(): Promise<void>;
}

export async function startTcpForwarder(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpForwarder> {
  const sockets = new Set<Socket>();
  let online = true;
  let cut: number | undefined;
  let splitting = false;
  let holding = false;
  let connections = 0;
  const lines: string[] = [];
  const server = createServer((client) => {
    if (!online) return void client.destroy();
    connections++;
    const upstream = connect(targetPort, targetHost);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (chunk: Buffer) => {
      // Lines start at the start of a chunk or after a newline; command words are lowercase ASCII.
      for (const match of chunk.toString("latin1").matchAll(/(?:^|\n)([a-z]+ [^\n]{0,120})\n/g)) {
        if (lines.length < 10_000) lines.push(match[1]!);
      }
      upstream.write(chunk);
    });
    let queue = Promise.resolve();
    upstream.on("data", (chunk: Buffer) => {
      if (holding) return;
      if (cut !== undefined) {
        const keep = chunk.subarray(0, cut);
        cut -= keep.length;
        if (cut === 0) {
          cut = undefined;
          client.write(keep, () => {
            client.destroy();
            upstream.destroy();
          });
          return;
        }
      }
      if (!splitting) return void client.write(chunk);
      for (const byte of chunk) {
        queue = queue.then(
          () =>
            new Promise<void>((resolve) => client.write(Buffer.from([byte]), () => setImmediate(resolve))),
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    lines,
    setOnline(value) {
      online = value;
      if (!value) for (const s of sockets) s.destroy();
    },
    cutAfter(bytes) {
      cut = bytes;
    },
    split(on) {
      splitting = on;
    },
    hold(on) {
      holding = on;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
