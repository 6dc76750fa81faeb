import { GmqError } from "gmq";
import { resolveOptions } from "../websocket/options.js";

export interface Gw123WebsocketOptions {
  /** The web module's socket, `ws(s)://host:port/message`, or a list: a failed connect moves to
   *  the next one. `moduleName` is added as a query parameter. */
  url: string | readonly string[];
  /** The `moduleName` query parameter (one live connection per name). Default `gmq_` + 8 random
   *  characters. */
  moduleName?: string;
  /** Node: the `Origin` header the server requires. Default `http://localhost`. */
  origin?: string;
  /** The socket's `bufferedAmount` above which frames wait in the client's queue. Default 1 MiB. */
  socketBufferBytes?: number;
}

export interface ResolvedGw123Options {
  readonly urls: readonly string[];
  readonly moduleName: string;
  readonly origin: string;
  readonly socketBufferBytes: number;
}

function name(value: unknown, field: string, max: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "" || value.length > max) {
    throw GmqError.invalid(field, `must be a string of 1 to ${max} characters`);
  }
  return value;
}

export function resolveGw123Options(options: Gw123WebsocketOptions): ResolvedGw123Options {
  const { urls, socketBufferBytes } = resolveOptions(options);
  return {
    urls,
    socketBufferBytes,
    moduleName:
      name(options.moduleName, "moduleName", 256) ?? `gmq_${Math.random().toString(36).slice(2, 10)}`,
    origin: name(options.origin, "origin", 2048) ?? "http://localhost",
  };
}
