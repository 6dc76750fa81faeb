/** Starting and stopping the in-process HTTP servers of `gmq/testing` (Node only). */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Listening {
  /** `http://<host>:<port>` (IPv6 hosts bracketed). */
  readonly url: string;
  readonly port: number;
  /** Stops listening and drops every connection; idempotent. */
  close(): Promise<void>;
}

/** Listens on `host` (default 127.0.0.1) and `port` (default: one the OS picks). */
export async function listenHttp(
  server: Server,
  options: { host?: string; port?: number; beforeClose?: () => void },
): Promise<Listening> {
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        options.beforeClose?.();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
