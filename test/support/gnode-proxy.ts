/**
 * What a browser app needs in front of a real gmq node: one origin that serves the page and
 * forwards `/gnode/*` to the node (which sends no CORS headers), answering OPTIONS itself so a
 * preflight never runs a node handler (an OPTIONS `/pop` would consume a message). Long pops must
 * not time out here either. nginx does the same with `location /gnode/ { proxy_pass
 * http://node:9504/; proxy_read_timeout 1d; if ($request_method = OPTIONS) { return 204; } }`.
 */
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serveStatic } from "../../examples/chat/static-server.js";

export interface PageWithProxy {
  readonly url: string;
  /** Requests forwarded to the node, by method (OPTIONS never is). */
  readonly forwarded: Record<string, number>;
  close(): Promise<void>;
}

export async function servePageWithProxy(dirs: readonly string[], nodeUrl: string): Promise<PageWithProxy> {
  const pages = await serveStatic({ dirs });
  const node = new URL(nodeUrl);
  const forwarded: Record<string, number> = {};
  const server: Server = createServer((req, res) => {
    const path = req.url ?? "/";
    const target = path.startsWith("/gnode/") ? node : new URL(pages.url);
    if (target === node && req.method === "OPTIONS") return void res.writeHead(204).end();
    if (target === node) forwarded[req.method ?? "GET"] = (forwarded[req.method ?? "GET"] ?? 0) + 1;
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: target === node ? path.slice("/gnode".length) : path,
        headers: { ...req.headers, host: target.host },
      },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502).end("bad gateway");
      else res.destroy();
    });
    // The browser went away (or aborted): so does the request to the node.
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    forwarded,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await pages.close();
    },
  };
}
