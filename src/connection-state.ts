import { abortWatcher, unwatchAbort, watchAbort } from "./abort-watch.js";
import type {
  Connection,
  ConnectionHooks,
  ConnectionOptions,
  ConnectionState,
  Link,
  StateChange,
} from "./connection.js";
import { GmqError, isPermanent } from "./errors.js";
import type { Transport } from "./transport.js";

/** The current state, and one event per real change (none once closed). */
export class StateHolder {
  state: ConnectionState = "disconnected";
  readonly #onState: (change: StateChange) => void;

  constructor(onState: (change: StateChange) => void) {
    this.#onState = onState;
  }

  set(to: ConnectionState, reason: string, attempt: number, error?: GmqError): void {
    const from = this.state;
    if (from === to || from === "closed") return;
    this.state = to;
    this.#onState({ from, to, reason, attempt, ...(error && { error }) });
  }
}

interface Waiter {
  resolve(link: Link): void;
  reject(error: GmqError): void;
}

/** Callers of `waitReady`, each bounded by its own signal. */
export class WaiterList {
  readonly #waiters = new Set<Waiter>();

  wait(signal: AbortSignal): Promise<Link> {
    return new Promise((resolve, reject) => {
      const stop = abortWatcher(() => {
        this.#waiters.delete(waiter);
        reject(GmqError.from(signal.reason, "aborted"));
      });
      const waiter: Waiter = {
        resolve: (link) => {
          unwatchAbort(signal, stop);
          resolve(link);
        },
        reject: (error) => {
          unwatchAbort(signal, stop);
          reject(error);
        },
      };
      if (signal.aborted) return stop.aborted(signal);
      watchAbort(signal, stop);
      this.#waiters.add(waiter);
    });
  }

  resolveAll(link: Link): void {
    for (const waiter of this.#waiters) waiter.resolve(link);
    this.#waiters.clear();
  }

  rejectAll(error: GmqError): void {
    for (const waiter of this.#waiters) waiter.reject(error);
    this.#waiters.clear();
  }
}

/**
 * What both connection state machines share: the state, the current link and its loss, the
 * waiters, the backoff sleep that `wake()` cuts short, and closing.
 */
export abstract class ConnectionCore implements Connection {
  protected readonly holder: StateHolder;
  protected link: Link | undefined;
  protected generation = 0;
  protected running = false;
  protected attempt = 0;
  protected readonly closing = new AbortController();
  protected readonly waiters = new WaiterList();
  lastError: GmqError | undefined;
  /** Ends the current link with an error (set per link). */
  protected loseCurrent: ((error: GmqError) => void) | undefined;
  #wakeSleep: (() => void) | undefined;

  constructor(
    protected readonly transport: Transport,
    protected readonly options: ConnectionOptions,
    protected readonly hooks: ConnectionHooks,
  ) {
    this.holder = new StateHolder(hooks.onState);
  }

  abstract readonly ready: Link | undefined;
  abstract waitReady(signal: AbortSignal, failFast?: boolean): Promise<Link>;
  /** Runs links one after the other until closed or stopped for good. */
  protected abstract run(): Promise<void>;

  get state(): ConnectionState {
    return this.holder.state;
  }

  get open(): Link | undefined {
    return this.link;
  }

  start(): void {
    if (this.running || this.holder.state === "closed") return;
    this.running = true;
    void this.run();
  }

  wake(): void {
    this.#wakeSleep?.();
  }

  interrupt(reason: string, cause?: GmqError): void {
    this.loseCurrent?.(new GmqError("disconnected", reason, cause && { cause }));
  }

  async close(): Promise<void> {
    if (this.holder.state === "closed") return;
    const closed = new GmqError("closed", "client is closed");
    this.closing.abort(closed);
    this.loseCurrent?.(closed);
    this.wake();
    const link = this.link;
    this.link = undefined;
    this.linkGone();
    this.holder.set("closed", "closed by the app", this.attempt);
    this.waiters.rejectAll(closed);
    if (link) this.hooks.down(link, closed);
    await this.transport.disconnect().catch(() => {});
  }

  /** The current link is no longer usable (subclasses keep more state about it). */
  protected linkGone(): void {}

  /** Gives up after a failure no retry fixes, unless the transport says a retry may succeed. */
  protected async givesUp(error: GmqError | undefined): Promise<boolean> {
    if (this.options.reconnect === false) return true;
    if (error === undefined || !isPermanent(error)) return false;
    try {
      return (await this.transport.shouldRetry?.(error)) !== true;
    } catch {
      return true;
    }
  }

  /** Waits `ms`, or until `wake()` or `close()`. */
  protected sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakeSleep = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakeSleep = done;
      if (this.closing.signal.aborted) done();
    });
  }
}
