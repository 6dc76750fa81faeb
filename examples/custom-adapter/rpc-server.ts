/**
 * The tiny HTTP RPC endpoint the fetch adapter talks to (Node). It serves calls from a table of
 * JSON handlers and keeps what was published, per topic, in order. `stop()`/`start()` take it off
 * the network and back on the same port, as a server restart would.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type RpcHandler = (args: unknown) => unknown;

export interface RpcServer {
  /** `http://127.0.0.1:<port>/rpc` */
  readonly url: string;
  /** What was published on `topic`, decoded as JSON where it is JSON, in arrival order. */
  published(topic: string): unknown[];
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

async function body(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function decode(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch {
    return bytes;
  }
}

export async function startRpcServer(handlers: Record<string, RpcHandler>, port = 0): Promise<RpcServer> {
  const log = new Map<string, unknown[]>();
  const server: Server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname);
    const payload = await body(request);
    const json = (status: number, value: unknown) =>
      response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    if (request.method !== "POST") return json(405, { message: "POST only" });
    if (path.startsWith("/rpc/publish/")) {
      const topic = path.slice("/rpc/publish/".length);
      log.set(topic, [...(log.get(topic) ?? []), decode(payload)]);
      return void response.writeHead(204).end();
    }
    if (path.startsWith("/rpc/call/")) {
      const handler = handlers[path.slice("/rpc/call/".length)];
      if (!handler) return json(404, { message: "no such method", reason: "NOT_FOUND" });
      try {
        return json(200, (await handler(decode(payload))) ?? null);
      } catch (error) {
        return json(500, { message: (error as Error).message, reason: "HANDLER_FAILED" });
      }
    }
    json(404, { message: "not found" });
  });
  const listen = (at: number) => new Promise<void>((resolve) => server.listen(at, "127.0.0.1", resolve));
  await listen(port);
  const bound = (server.address() as AddressInfo).port;
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    url: `http://127.0.0.1:${bound}/rpc`,
    published: (topic) => log.get(topic) ?? [],
    stop,
    start: () => listen(bound),
    close: () => (server.listening ? stop() : Promise.resolve()),
  };
}
