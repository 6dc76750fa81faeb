/** A tiny static file server for the example page (and the browser tests' pages). */
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, normalize } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
};

export interface StaticServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves each request from the first of `dirs` that has the file; `generated` answers fixed
 * paths (e.g. `/config.json`) from memory. Listens on `port`, or a free one when it is taken.
 */
export async function serveStatic(options: {
  dirs: readonly string[];
  generated?: Record<string, string>;
  host?: string;
  port?: number;
}): Promise<StaticServer> {
  const host = options.host ?? "127.0.0.1";
  const server = createServer(async (request, response) => {
    const path = normalize(new URL(request.url ?? "/", "http://x").pathname).replace(/^(\.\.[/\\])+/, "");
    const name = path === "/" ? "/index.html" : path;
    const headers = {
      "content-type": TYPES[name.slice(name.lastIndexOf("."))] ?? "application/octet-stream",
      "cache-control": "no-store",
    };
    const fixed = options.generated?.[name];
    if (fixed !== undefined) return void response.writeHead(200, headers).end(fixed);
    for (const dir of options.dirs) {
      const body = await readFile(join(dir, name)).catch(() => undefined);
      if (body) return void response.writeHead(200, headers).end(body);
    }
    response.writeHead(404).end("not found");
  });
  const port = await listen(server, host, options.port ?? 0);
  return {
    url: `http://${host}:${port}/`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE" && port !== 0) resolve(listen(server, host, 0));
      else reject(error);
    });
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}
