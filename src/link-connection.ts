import { backoffDelay } from "./backoff.js";
import type { Link } from "./connection.js";
import { ConnectionCore } from "./connection-state.js";
import { withDeadline } from "./deadline.js";
import { GmqError } from "./errors.js";
import type { TransportSink } from "./transport.js";

/** Only a connection that stayed up this long resets the backoff, so a broker that accepts and
 *  drops at once is not hammered. */
const STABLE_AFTER_MS = 5_000;

/**
 * The state machine of a transport that keeps a link: connect, run the setup, report
 * `connected`, and on loss retry with exponential backoff and full jitter until closed. A
 * `wake()` (the runtime came back online, the page became visible) cuts the current wait short.
 * A permanent failure (refused credentials, an untrusted certificate…) stops retrying until the
 * app calls `start()` again (`client.connect()`).
 */
export class LinkConnection extends ConnectionCore {
  get ready(): Link | undefined {
    return this.holder.state === "connected" ? this.link : undefined;
  }

  waitReady(signal: AbortSignal, failFast = false): Promise<Link> {
    const link = this.ready;
    if (link) return Promise.resolve(link);
    if (this.holder.state === "closed") return Promise.reject(new GmqError("closed", "client is closed"));
    if (failFast && this.holder.state !== "connecting") {
      return Promise.reject(new GmqError("disconnected", `not connected (${this.holder.state})`));
    }
    this.start();
    return this.waiters.wait(signal);
  }

  protected async run(): Promise<void> {
    while (!this.closing.signal.aborted) {
      if (this.holder.state !== "reconnecting") this.holder.set("connecting", "connecting", this.attempt);
      const failure = await this.#connectOnce();
      if (this.closing.signal.aborted) break;
      if (failure) this.lastError = failure;
      const givesUp = await this.givesUp(failure);
      if (this.closing.signal.aborted) break;
      if (givesUp) {
        // Nothing retries now: say why, and fail whoever waits with the cause itself.
        this.running = false;
        const why = failure ?? new GmqError("disconnected", "connection lost and reconnect is off");
        this.holder.set("disconnected", why.message, this.attempt, why);
        this.waiters.rejectAll(why);
        return;
      }
      if (failure) this.holder.set("reconnecting", failure.message, this.attempt + 1, failure);
      await this.sleep(backoffDelay(this.attempt++, this.options.reconnect || undefined));
    }
  }

  /** One connection from attempt to loss. Resolves with the error if it never got ready, and
   *  with undefined after a connection that was ready is lost. */
  async #connectOnce(): Promise<GmqError | undefined> {
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
        (signal) => this.transport.connect!(sink, { signal }),
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
    this.holder.set("connected", "connected", this.attempt);
    this.waiters.resolveAll(link);
    this.hooks.up(link);
    const error = await gone;
    this.lastError = error;
    if (Date.now() - connectedAt >= STABLE_AFTER_MS) this.attempt = 0;
    if (this.link === link) {
      this.link = undefined;
      if (!this.closing.signal.aborted) {
        this.holder.set("reconnecting", error.message, this.attempt, error);
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
}
