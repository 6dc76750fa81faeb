import { abortWatcher, unwatchAbort, watchAbort } from "./abort-watch.js";
import { type BackoffOptions, backoffDelay } from "./backoff.js";
import { withDeadline } from "./deadline.js";
import { GmqError } from "./errors.js";
import type { InboundMessage, Transport, TransportSink } from "./transport.js";

const STABLE_AFTER_MS = 5_000;

export type ConnectionState = "disconnected" | "connecting" | "connected" | "reconnecting" | "closed";

export interface StateChange {
  readonly from: ConnectionState;
  readonly to: ConnectionState;
  readonly reason: string;
  readonly error?: GmqError;
  /** Failed attempts since the last good connection. */
  readonly attempt: number;
}

/** One live transport connection. Its signal aborts when the connection is gone. */
export interface Link {
  readonly generation: number;
  readonly signal: AbortSignal;
}

export interface ConnectionHooks {
  onState(change: StateChange): void;
  onError(error: GmqError): void;
  onMessage(message: InboundMessage): void;
  /** Runs on every new connection before it counts as connected (app hook, resubscribe).
   *  Throwing makes the attempt fail and retry with backoff. */
  setup(link: Link): Promise<void>;
  /** The connection is ready for traffic (flush the outbox). */
  up(link: Link): void;
  /** The connection that was up is gone. */
  down(link: Link, error: GmqError): void;
}

export interface ConnectionOptions {
  /** `false` turns automatic reconnecting off. */
  reconnect: BackoffOptions | false;
  connectTimeoutMs: number;
}

/**
 * The connection state machine: connect, run the setup, report `connected`, and on loss retry
 * with exponential backoff and full jitter until closed. A `wake()` (the runtime came back
 * online, the page became visible) cuts the current wait short.
 */
export class Connection {
  private current: ConnectionState = "disconnected";
  private link: Link | undefined;
  private generation = 0;
  private running = false;
  private attempt = 0;
  private readonly closing = new AbortController();
  private waiters = new Set<{ resolve: (link: Link) => void; reject: (error: GmqError) => void }>();
  private wakeSleep: (() => void) | undefined;
  private loseCurrent: ((error: GmqError) => void) | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly options: ConnectionOptions,
    private readonly hooks: ConnectionHooks,
  ) {}

  get state(): ConnectionState {
    return this.current;
  }

  /** The connection, if one is ready for traffic. */
  get ready(): Link | undefined {
    return this.current === "connected" ? this.link : undefined;
  }

  /** The transport's live connection, also while it is still being set up (subscriptions being
   *  restored): messages already arrive then, and their replies must go out on it. */
  get open(): Link | undefined {
    return this.link;
  }

  start(): void {
    if (this.running || this.current === "closed") return;
    this.running = true;
    void this.run();
  }

  /** Retry now instead of waiting out the backoff. */
  wake(): void {
    this.wakeSleep?.();
  }

  /** Drops the current connection as lost (e.g. the browser says it is offline); the usual
   *  reconnect with backoff follows. */
  interrupt(reason: string): void {
    this.loseCurrent?.(new GmqError("disconnected", reason));
  }

  /** Resolves with the link once connected; rejects when the signal aborts or the client closes. */
  waitReady(signal: AbortSignal): Promise<Link> {
    const link = this.ready;
    if (link) return Promise.resolve(link);
    if (this.current === "closed") return Promise.reject(new GmqError("closed", "client is closed"));
    this.start();
    return new Promise((resolve, reject) => {
      const stop = abortWatcher(() => {
        this.waiters.delete(waiter);
        reject(GmqError.from(signal.reason));
      });
      const waiter = {
        resolve: (ready: Link) => {
          unwatchAbort(signal, stop);
          resolve(ready);
        },
        reject: (error: GmqError) => {
          unwatchAbort(signal, stop);
          reject(error);
        },
      };
      if (signal.aborted) return stop.aborted(signal);
      watchAbort(signal, stop);
      this.waiters.add(waiter);
    });
  }

  async close(): Promise<void> {
    if (this.current === "closed") return;
    const closed = new GmqError("closed", "client is closed");
    this.closing.abort(closed);
    this.loseCurrent?.(closed);
    this.wake();
    const link = this.link;
    this.link = undefined;
    this.setState("closed", "closed by the app");
    for (const waiter of this.waiters) waiter.reject(new GmqError("closed", "client is closed"));
    this.waiters.clear();
    if (link) this.hooks.down(link, new GmqError("closed", "client is closed"));
    await this.transport.disconnect().catch(() => {});
  }

  private setState(to: ConnectionState, reason: string, error?: GmqError): void {
    const from = this.current;
    if (from === to || from === "closed") return;
    this.current = to;
    this.hooks.onState({ from, to, reason, attempt: this.attempt, ...(error && { error }) });
  }

  private async run(): Promise<void> {
    let everConnected = false;
    while (!this.closing.signal.aborted) {
      this.setState(everConnected || this.attempt > 0 ? "reconnecting" : "connecting", "connecting");
      const error = await this.connectOnce();
      if (this.closing.signal.aborted) break;
      if (error === undefined) everConnected = true;
      if (this.options.reconnect === false) {
        this.running = false;
        const why = error ?? new GmqError("disconnected", "connection lost and reconnect is off");
        this.setState("disconnected", why.message, why);
        for (const waiter of this.waiters) waiter.reject(why);
        this.waiters.clear();
        return;
      }
      await this.sleep(backoffDelay(this.attempt++, this.options.reconnect));
    }
  }

  /** One connection from attempt to loss. Resolves with the error if it never got ready, and
   *  with undefined after a connection that was ready is lost. */
  private async connectOnce(): Promise<GmqError | undefined> {
    const generation = ++this.generation;
    const controller = new AbortController();
    const link: Link = { generation, signal: controller.signal };
    let lost!: (error: GmqError) => void;
    const gone = new Promise<GmqError>((resolve) => {
      lost = resolve;
    });
    this.loseCurrent = lost;
    let alive = true;
    const sink: TransportSink = {
      onMessage: (message) => {
        if (alive) this.hooks.onMessage(message);
      },
      onDisconnect: (cause) => {
        if (!alive) return;
        alive = false;
        const error = GmqError.from(cause ?? new GmqError("disconnected", "connection lost"), "disconnected");
        controller.abort(error);
        lost(error);
      },
      onError: (cause) => {
        if (alive) this.hooks.onError(GmqError.from(cause, "protocol"));
      },
    };
    try {
      await withDeadline(
        { signal: this.closing.signal, timeoutMs: this.options.connectTimeoutMs, what: "connect" },
        (signal) => this.transport.connect(sink, { signal }),
      );
      this.link = link;
      await Promise.race([this.hooks.setup(link), gone.then((error) => Promise.reject(error))]);
    } catch (cause) {
      alive = false;
      const error = GmqError.from(cause, "disconnected");
      controller.abort(error);
      if (this.link === link) this.link = undefined;
      if (!this.closing.signal.aborted) {
        this.hooks.onError(error);
        await this.transport.disconnect().catch(() => {});
      }
      return error;
    }
    const connectedAt = Date.now();
    this.setState("connected", "connected");
    for (const waiter of this.waiters) waiter.resolve(link);
    this.waiters.clear();
    this.hooks.up(link);
    const error = await gone;
    // Only a connection that stayed up a while resets the backoff, so a broker that accepts and
    // drops at once is not hammered.
    if (Date.now() - connectedAt >= STABLE_AFTER_MS) this.attempt = 0;
    if (this.link === link) {
      this.link = undefined;
      if (!this.closing.signal.aborted) {
        this.setState("reconnecting", error.message, error);
        this.hooks.down(link, error);
      }
    }
    // Lost without the transport saying so (interrupt): make sure its socket is gone too,
    // before the next attempt opens another.
    if (alive && !this.closing.signal.aborted) await this.transport.disconnect().catch(() => {});
    alive = false;
    controller.abort(error);
    return undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeSleep = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeSleep = done;
      if (this.closing.signal.aborted) done();
    });
  }
}
