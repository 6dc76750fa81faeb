import { GmqError } from "gmq";

export interface WebSocketOptions {
  /** `ws(s)://host:port/gmq`, or a list: a failed connect, or a hub shutting down (4100), moves
   *  to the next one. */
  url: string | readonly string[];
  /** A function giving the credentials for the hub's `authenticate` hook, asked for on every
   *  connect and before a refresh; a 4101 (expired) close asks again and reconnects. */
  token?: () => string | Promise<string>;
  /** The hub's exactly-once `clientId` sent on `connect`, 1 to 128 characters. Default: the
   *  outbox producer of the last message this transport sent (each message also names its own in
   *  `publish.clientId`). */
  clientId?: string;
  /** The socket's `bufferedAmount` above which frames wait in the client's queue; a positive
   *  integer. Default 1 MiB. */
  socketBufferBytes?: number;
  /** Name and version sent in `connect.client`, for the hub's logs. Default name `gmq`. */
  client?: { name?: string; version?: string };
}

export interface ResolvedOptions {
  readonly urls: readonly string[];
  readonly token: (() => string | Promise<string>) | undefined;
  readonly clientId: string | undefined;
  readonly socketBufferBytes: number;
  readonly client: { name?: string; version?: string };
}

/** A bad option fails at once with `invalid_argument` naming it (the fields' documentation above
 *  says what each takes). */
export function resolveOptions(options: WebSocketOptions): ResolvedOptions {
  const { url, token, clientId, client, socketBufferBytes = 1 << 20 } = options ?? {};
  const urls = [url].flat();
  const valid = {
    url: urls.length > 0 && urls.every((each) => /^wss?:\/\/[^/]/.test(each)),
    token: token === undefined || typeof token === "function",
    clientId: clientId === undefined || (typeof clientId === "string" && /^.{1,128}$/s.test(clientId)),
    socketBufferBytes: Number.isInteger(socketBufferBytes) && socketBufferBytes > 0,
  };
  for (const [field, ok] of Object.entries(valid)) {
    if (!ok) throw GmqError.invalid(field, "not valid");
  }
  return { urls, token, clientId, socketBufferBytes, client: { name: "gmq", ...client } };
}
