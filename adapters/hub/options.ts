import type { IncomingMessage, Server } from "node:http";
import type { HubEngine } from "./engine.js";

/** Who a connection is, as the `authenticate` hook said. */
export interface Identity {
  /** The user; a refresh must not change it. */
  readonly userId?: string;
  /** Epoch ms when the credentials expire: the hub closes with 4101 then, unless refreshed. */
  readonly expiresAt?: number;
  /** Anything the app wants to see again in `authorize`. */
  readonly data?: unknown;
}

export interface AuthenticateRequest {
  readonly token: string | undefined;
  readonly clientId: string | undefined;
  readonly client: { readonly name?: string; readonly version?: string } | undefined;
  /** The HTTP upgrade request (headers, remote address). */
  readonly request: IncomingMessage;
  /** The identity being refreshed, for an in-band `refresh`. */
  readonly previous?: Identity;
}

/** Return the identity to accept, or `false`/`null`/`undefined` (or throw) to refuse. */
export type Authenticate = (
  request: AuthenticateRequest,
) => Identity | false | null | undefined | Promise<Identity | false | null | undefined>;

export type AuthorizeRequest =
  | { readonly action: "publish"; readonly topic: string }
  | { readonly action: "subscribe"; readonly pattern: string; readonly queue?: string }
  | { readonly action: "call" | "handle"; readonly service: string; readonly method: string };

/** Return true to allow. A throw or anything else denies with `forbidden`. `clientId` is the
 *  connection's, or for a publish the outbox it names. */
export type Authorize = (
  identity: Identity,
  request: AuthorizeRequest & { readonly clientId: string | undefined },
) => boolean | Promise<boolean>;

export interface HubLimits {
  /** Largest frame a client may send, in bytes; larger closes with 1009. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Frames per second a connection may send (token bucket refill). Default 1000. */
  ratePerSecond?: number;
  /** Token bucket size. Default 2000. */
  rateBurst?: number;
  /** Subscriptions per connection. Default 512. */
  maxSubscriptions?: number;
  /** Largest (and default) `maxInFlight` of a manual-ack subscription. Default 1000. */
  maxInFlight?: number;
  /** Messages a subscription may hold while waiting for in-flight room; more is a slow consumer. Default 10,000. */
  maxPendingMessages?: number;
  /** Bytes the hub queues for one connection beyond the socket; more is a slow consumer. Default 8 MiB. */
  maxQueuedBytes?: number;
  /** The socket's `bufferedAmount` above which the hub queues instead of writing. Default 1 MiB. */
  socketBufferBytes?: number;
  /** A connection whose queue has not drained for this long is a slow consumer. Default 10 s. */
  slowConsumerMs?: number;
  /** Time from upgrade to `connect` + authentication. Default 10 s. */
  connectTimeoutMs?: number;
  /** Largest call deadline; also the default. Default 60 s / 30 s. */
  maxCallTimeoutMs?: number;
  defaultCallTimeoutMs?: number;
  /** Calls a connection may have waiting at once (as caller, and as handler). Default 1000. */
  maxPendingCalls?: number;
}

export interface HeartbeatOptions {
  /** How often the hub pings. Default 25 s. */
  intervalMs?: number;
  /** How long after a ping the hub waits for any frame; also the client's grace. Default 10 s. */
  graceMs?: number;
}

export interface HubOptions {
  /** Attach to this server's `upgrade` event (it keeps serving everything else). */
  server?: Server;
  /** Otherwise listen on this port (0: a free one). Default 0. */
  port?: number;
  /** Interface to listen on when the hub makes its own server. Default 127.0.0.1. */
  host?: string;
  /** URL path of the WebSocket endpoint. Default `/gmq`. */
  path?: string;
  authenticate?: Authenticate;
  authorize?: Authorize;
  /** Shared state between hubs. Default: a fresh `memoryEngine()`. */
  engine?: HubEngine;
  limits?: HubLimits;
  heartbeat?: HeartbeatOptions;
  /** For logs and session ids. Default: random. */
  name?: string;
  /** Told about failures that are not any one client's fault (engine errors, hook throws). */
  onError?: (error: unknown) => void;
}

export type ResolvedLimits = Required<HubLimits>;

export function resolveLimits(limits: HubLimits = {}): ResolvedLimits {
  const resolved: ResolvedLimits = {
    maxFrameBytes: limits.maxFrameBytes ?? 1024 * 1024,
    ratePerSecond: limits.ratePerSecond ?? 1000,
    rateBurst: limits.rateBurst ?? 2000,
    maxSubscriptions: limits.maxSubscriptions ?? 512,
    maxInFlight: limits.maxInFlight ?? 1000,
    maxPendingMessages: limits.maxPendingMessages ?? 10_000,
    maxQueuedBytes: limits.maxQueuedBytes ?? 8 * 1024 * 1024,
    socketBufferBytes: limits.socketBufferBytes ?? 1024 * 1024,
    slowConsumerMs: limits.slowConsumerMs ?? 10_000,
    connectTimeoutMs: limits.connectTimeoutMs ?? 10_000,
    maxCallTimeoutMs: limits.maxCallTimeoutMs ?? 60_000,
    defaultCallTimeoutMs: limits.defaultCallTimeoutMs ?? 30_000,
    maxPendingCalls: limits.maxPendingCalls ?? 1000,
  };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new TypeError(`limits.${name}: must be a positive number, got ${value}`);
    }
  }
  resolved.defaultCallTimeoutMs = Math.min(resolved.defaultCallTimeoutMs, resolved.maxCallTimeoutMs);
  return resolved;
}
