import type { BackoffOptions } from "./backoff.js";
import type { GmqError } from "./errors.js";
import type { InboundMessage } from "./transport.js";

export type ConnectionState = "disconnected" | "connecting" | "connected" | "reconnecting" | "closed";

export interface StateChange {
  readonly from: ConnectionState;
  readonly to: ConnectionState;
  readonly reason: string;
  /** Why the connection was lost or an attempt failed. */
  readonly error?: GmqError;
  /** Failed attempts since the last good connection. */
  readonly attempt: number;
}

/**
 * One usable connection. Its signal aborts when it is gone. A request-only transport has no
 * socket; its links are periods in which the backend is believed reachable, ended by a network
 * failure.
 */
export interface Link {
  readonly generation: number;
  readonly signal: AbortSignal;
}

export interface ConnectionHooks {
  onState(change: StateChange): void;
  onError(error: GmqError): void;
  onMessage(message: InboundMessage): void;
  /** Runs on every new link before it counts as ready (app hook, resubscribe).
   *  Throwing makes the attempt fail and retry with backoff. */
  setup(link: Link): Promise<void>;
  /** The link is ready for traffic (flush the outbox). */
  up(link: Link): void;
  /** The link that was up is gone. */
  down(link: Link, error: GmqError): void;
}

export interface ConnectionOptions {
  /** `false` turns automatic reconnecting off. */
  readonly reconnect: Required<BackoffOptions> | false;
  readonly connectTimeoutMs: number;
}

/**
 * The connection state machine the client drives, whatever the transport's shape: a kept link
 * (`LinkConnection`) or requests only (`RequestConnection`).
 */
export interface Connection {
  readonly state: ConnectionState;
  /** The link, if one is ready for traffic. */
  readonly ready: Link | undefined;
  /** The live link, also while it is still being set up (subscriptions being restored):
   *  messages already arrive then, and their replies must go out on it. */
  readonly open: Link | undefined;
  /** Why the last attempt failed or the last link was lost, if it did. */
  readonly lastError: GmqError | undefined;
  /** Starts (or, after a permanent failure, restarts) connecting. */
  start(): void;
  /** Retry now instead of waiting out the backoff. */
  wake(): void;
  /** Drops the current link as lost (the runtime went offline, a send failed on it). */
  interrupt(reason: string, cause?: GmqError): void;
  /** Resolves with the link once ready; rejects when the signal aborts or the client closes.
   *  With `failFast`, rejects at once with `disconnected` while the backend is known unreachable. */
  waitReady(signal: AbortSignal, failFast?: boolean): Promise<Link>;
  close(): Promise<void>;
}
