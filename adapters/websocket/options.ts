import { GmqError } from "gmq";

export interface WebSocketOptions {
  /** `ws(s)://host:port/gmq`, or a list: a failed connect, or a hub shutting down (4100), moves
   *  to the next one. */
  url: string | readonly string[];
  /** Credentials for the hub's `authenticate` hook, asked for on every connect and before a
   *  refresh; a 4101 (expired) close asks again and reconnects. */
  token?: () => string | Promise<string>;
  /** The hub's exactly-once `clientId` sent on `connect`. Default: the outbox producer of the
   *  last message this transport sent (each message also names its own in `publish.clientId`). */
  clientId?: string;
  /** `gmq` (default): the gmq hub protocol, `gmq.v1.json`. `gw123`: the legacy gw123/GMQ
   *  `/message` socket (publish only). */
  dialect?: "gmq" | "gw123";
  /** gw123 dialect: the `moduleName` query parameter (one live connection per name). Default
   *  `gmq_` + 8 random characters. */
  moduleName?: string;
  /** gw123 dialect, Node: the `Origin` header the server requires. Default `http://localhost`. */
  origin?: string;
  /** Bytes this client queues when the socket is backed up; a publish waits for room beyond it.
   *  Default 4 MiB. */
  maxQueuedBytes?: number;
  /** The socket's `bufferedAmount` above which frames wait in the client's queue. Default 1 MiB. */
  socketBufferBytes?: number;
  /** Name and version sent in `connect.client`, for the hub's logs. */
  client?: { name?: string; version?: string };
}

export interface ResolvedOptions {
  readonly urls: readonly string[];
  readonly token: (() => string | Promise<string>) | undefined;
  readonly clientId: string | undefined;
  readonly dialect: "gmq" | "gw123";
  readonly moduleName: string;
  readonly origin: string;
  readonly maxQueuedBytes: number;
  readonly socketBufferBytes: number;
  readonly client: { name?: string; version?: string };
}

function positive(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) <= 0) {
    throw GmqError.invalid(field, "must be a positive integer");
  }
  return value as number;
}

function name(value: unknown, field: string, max: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "" || value.length > max) {
    throw GmqError.invalid(field, `must be a string of 1 to ${max} characters`);
  }
  return value;
}

export function resolveOptions(options: WebSocketOptions): ResolvedOptions {
  if (typeof options !== "object" || options === null) throw GmqError.invalid("options", "must be an object");
  const urls = typeof options.url === "string" ? [options.url] : options.url;
  if (!Array.isArray(urls) || urls.length === 0) {
    throw GmqError.invalid("url", "must be a URL or a non-empty list of URLs");
  }
  for (const url of urls) {
    if (typeof url !== "string" || !/^wss?:\/\/[^/]/.test(url)) {
      throw GmqError.invalid("url", `must be a ws:// or wss:// URL, got "${String(url)}"`);
    }
  }
  if (options.token !== undefined && typeof options.token !== "function") {
    throw GmqError.invalid("token", "must be a function returning the token (or a promise of it)");
  }
  const dialect = options.dialect ?? "gmq";
  if (dialect !== "gmq" && dialect !== "gw123") throw GmqError.invalid("dialect", 'must be "gmq" or "gw123"');
  const client = options.client ?? {};
  if (typeof client !== "object" || client === null) throw GmqError.invalid("client", "must be an object");
  return {
    urls,
    token: options.token,
    clientId: name(options.clientId, "clientId", 128),
    dialect,
    moduleName:
      name(options.moduleName, "moduleName", 256) ?? `gmq_${Math.random().toString(36).slice(2, 10)}`,
    origin: name(options.origin, "origin", 2048) ?? "http://localhost",
    maxQueuedBytes: positive(options.maxQueuedBytes, "maxQueuedBytes", 4 * 1024 * 1024),
    socketBufferBytes: positive(options.socketBufferBytes, "socketBufferBytes", 1024 * 1024),
    client: { name: client.name ?? "gmq", ...(client.version !== undefined && { version: client.version }) },
  };
}
