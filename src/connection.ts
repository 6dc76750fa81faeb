import { type BackoffOptions, backoffDelay } from "./backoff.js";
import { withDeadline } from "./deadline.js";
import { GmqError, isPermanent } from "./errors.js";
import { sleep } from "./sleep.js";
import type { InboundMessage, Transport, TransportSink } from "./transport.js";
import { Waiters } from "./waiters.js";

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
 * failure. A link is also the options object of the operations sent on it (it has the signal).
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

/** Only a connection that stayed up this long resets the backoff, so a broker that accepts and
 *  drops at once is not hammered. */
const STABLE_AFTER_MS = 5_000;

const ignore = (): void => {};

/**
 * The connection state machine the client drives, whatever the transport's shape.
 *
 * A transport that keeps a link (`connection: "link"`): connect, run the setup, report
 * `connected`, and on loss retry with exponential backoff and full jitter until closed.
 *
 * A request-only transport (HTTP, gRPC-web): there is nothing to open, so the client is usable at
 * once, and reachability is learnt from what requests meet (`reachable`/`unreachable`, see
 * observed-transport.ts). A link is then a period in which the backend is believed reachable:
 * `connecting` until a request gets an answer (`connected`), ended by a network failure
 * (`disconnected`, with the cause); nothing is sent until the backoff has passed.
 *
 * Either way a `wake()` (online again, page visible, an answer) cuts the current wait short, and
 * a permanent failure (refused credentials, an untrusted certificate…) stops retrying until the
 * app calls `start()` again (`client.connect()`).
 */
export class Connection {
  state: ConnectionState = "disconnected";
  /** Why the last attempt failed or the last link was lost, if it did. */
  lastError: GmqError | undefined;
  readonly #transport: Transport;
  readonly #options: ConnectionOptions;
  readonly #hooks: ConnectionHooks;
  readonly #request: boolean;
  #link: Link | undefined;
  #usable = false;
  /** Request-only: a request got an answer while the link was still being set up. */
  #answered = false;
  /** The transport asked for the next attempt at once (`DisconnectOptions.reconnectNow`). */
  #reconnectNow = false;
  #generation = 0;
  #running = false;
  #attempt = 0;
  readonly #closing = new AbortController();
  readonly #waiters = new Waiters<Link>();
  /** Ends the current link with an error (set per link). */
  #lose: ((error: GmqError) => void) | undefined;
  /** Cuts the current backoff short. */
  #wakeUp: AbortController | undefined;

  constructor(transport: Transport, options: ConnectionOptions, hooks: ConnectionHooks) {
    this.#transport = transport;
    this.#options = options;
    this.#hooks = hooks;
    this.#request = transport.capabilities.connection === "request";
  }

  /** The link, if one is ready for traffic. */
  get ready(): Link | undefined {
    return this.#usable ? this.#link : undefined;
  }

  /** The live link, also while it is still being set up (subscriptions being restored):
   *  messages already arrive then, and their replies must go out on it. */
  get open(): Link | undefined {
    return this.#link;
  }

  /** Starts (or, after a permanent failure, restarts) connecting. */
  start(): void {
    if (this.#running || this.state === "closed") return;
    this.#running = true;
    void this.#run();
  }

  /** Retry now instead of waiting out the backoff. */
  wake(): void {
    this.#wakeUp?.abort();
  }

  /** Drops the current link as lost (the runtime went offline, a send failed on it). */
  interrupt(reason: string, cause?: GmqError): void {
    this.#lose?.(new GmqError("disconnected", reason, cause && { cause }));
  }

  /** Request-only: a request got an answer from the backend (even an error): it is reachable. */
  reachable(): void {
    if (this.#usable) {
      this.#attempt = 0;
      this.#set("connected", "the backend answered", 0);
    } else if (this.#link) {
      this.#answered = true; // during the setup (e.g. a login in onConnect): connected once it ends
    } else {
      this.wake();
    }
  }

  /** Request-only: a request failed because the backend could not be reached. */
  unreachable(error: GmqError): void {
    this.#lose?.(error);
  }

  /** Resolves with the link once ready; rejects when the signal aborts or the client closes.
   *  With `failFast` (request-only), rejects at once with `disconnected` while the backend is
   *  known to be unreachable. */
  waitReady(signal: AbortSignal, failFast = false): Promise<Link> {
    const link = this.ready;
    if (link) return Promise.resolve(link);
    if (this.state === "closed") return Promise.reject(new GmqError("closed", "client is closed"));
    if (failFast && this.#running && this.state === "disconnected") {
      const cause = this.lastError;
      const why = cause ? `: ${cause.message}` : "";
      return Promise.reject(new GmqError("disconnected", `the backend is unreachable${why}`, { cause }));
    }
    this.start();
    return this.#waiters.wait(signal);
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    const closed = new GmqError("closed", "client is closed");
    this.#closing.abort(closed);
    this.#lose?.(closed);
    this.wake();
    const link = this.#link;
    this.#link = undefined;
    this.#usable = false;
    this.#set("closed", "closed by the app");
    this.#waiters.settle(closed);
    if (link) this.#hooks.down(link, closed);
    await this.#transport.disconnect().catch(ignore);
  }

  /** The current state, and one event per real change (none once closed). */
  #set(to: ConnectionState, reason: string, attempt = this.#attempt, error?: GmqError): void {
    const from = this.state;
    if (from === to || from === "closed") return;
    this.state = to;
    this.#hooks.onState({ from, to, reason, attempt, ...(error && { error }) });
  }

  /** Runs links one after the other until closed or stopped for good. */
  async #run(): Promise<void> {
    const closing = this.#closing.signal;
    while (!closing.aborted) {
      if (!this.#request && this.state !== "reconnecting") this.#set("connecting", "connecting");
      const failure = await this.#once();
      if (closing.aborted) break;
      if (failure) this.lastError = failure;
      const givesUp = await this.#givesUp(failure);
      if (closing.aborted) break;
      if (givesUp) {
        // Nothing retries now: say why, and fail whoever waits with the cause itself.
        this.#running = false;
        const why = failure ?? new GmqError("disconnected", "connection lost and reconnect is off");
        if (!this.#request) this.#set("disconnected", why.message, this.#attempt, why);
        this.#waiters.settle(why);
        return;
      }
      if (failure && !this.#request) this.#set("reconnecting", failure.message, this.#attempt + 1, failure);
      const delay = backoffDelay(this.#attempt++, this.#options.reconnect || undefined);
      // Asked to come back at once: only after a link that was up (attempt 1 now), never in a loop.
      const now = this.#reconnectNow && this.#attempt === 1;
      this.#reconnectNow = false;
      if (!now) {
        this.#wakeUp = new AbortController();
        await sleep(delay, this.#wakeUp.signal);
      }
    }
  }

  /**
   * One link from attempt to loss. Resolves with the error if it never got ready, and, once a
   * ready link is lost, with undefined (a kept link: reconnect at once) or the error (requests:
   * back off first).
   */
  async #once(): Promise<GmqError | undefined> {
    const request = this.#request;
    const hooks = this.#hooks;
    const transport = this.#transport;
    const closing = this.#closing.signal;
    const controller = new AbortController();
    const link: Link = { generation: ++this.#generation, signal: controller.signal };
    let lost!: (error: GmqError) => void;
    const gone = new Promise<GmqError>((resolve) => {
      lost = resolve;
    });
    this.#lose = lost;
    // A kept link: whether the transport's connection is alive (it reports its loss once).
    let alive = !request;
    const sink: TransportSink = {
      onMessage: (message) => {
        if (alive) hooks.onMessage(message);
      },
      onDisconnect: (cause, options) => {
        if (!alive) return;
        alive = false;
        if (options?.reconnectNow) this.#reconnectNow = true;
        const error = GmqError.from(cause ?? new GmqError("disconnected", "connection lost"), "disconnected");
        controller.abort(error);
        lost(error);
      },
      onError: (cause) => {
        if (alive) hooks.onError(GmqError.from(cause, "protocol"));
      },
    };
    const setup = () => Promise.race([hooks.setup(link), gone.then((error) => Promise.reject(error))]);
    const deadline = {
      signal: closing,
      timeoutMs: this.#options.connectTimeoutMs,
      what: request ? "setup" : "connect",
    };
    try {
      if (request) {
        this.#link = link;
        this.#answered = false;
        this.#set("connecting", this.#attempt > 0 ? "retrying" : "ready to send");
        await withDeadline(deadline, setup);
      } else {
        await withDeadline(deadline, (signal) => transport.connect!(sink, { signal }));
        this.#link = link;
        await setup();
      }
    } catch (cause) {
      alive = false;
      const error = GmqError.from(cause, "disconnected");
      controller.abort(error);
      if (this.#link === link) this.#link = undefined;
      if (!closing.aborted) {
        hooks.onError(error);
        if (request) this.#set("disconnected", error.message, this.#attempt + 1, error);
        else await transport.disconnect().catch(ignore);
      }
      return error;
    }
    const connectedAt = Date.now();
    this.#usable = true;
    if (!request || this.#answered) {
      if (request) this.#attempt = 0;
      this.#set("connected", request ? "the backend answered" : "connected");
    }
    this.#waiters.settle(link);
    hooks.up(link);
    const error = await gone;
    this.#usable = false;
    this.lastError = error;
    if (request) controller.abort(error);
    else if (Date.now() - connectedAt >= STABLE_AFTER_MS) this.#attempt = 0;
    if (this.#link === link) {
      this.#link = undefined;
      if (!closing.aborted) {
        if (request) this.#set("disconnected", error.message, this.#attempt + 1, error);
        else this.#set("reconnecting", error.message, this.#attempt, error);
        hooks.down(link, error);
      }
    }
    // Lost without the transport saying so (interrupt): make sure its socket is gone too,
    // before the next attempt opens another.
    if (alive && !closing.aborted) await transport.disconnect().catch(ignore);
    alive = false;
    controller.abort(error);
    // A permanent loss (credentials revoked mid-session…) is judged like a failed attempt.
    return request || isPermanent(error) ? error : undefined;
  }

  /** Gives up after a failure no retry fixes, unless the transport says a retry may succeed. */
  async #givesUp(error: GmqError | undefined): Promise<boolean> {
    if (this.#options.reconnect === false) return true;
    if (error === undefined || !isPermanent(error)) return false;
    try {
      return (await this.#transport.shouldRetry?.(error)) !== true;
    } catch {
      return true;
    }
  }
}
