import { backoffDelay } from "./backoff.js";
import type { Link } from "./connection.js";
import { ConnectionCore } from "./connection-state.js";
import { withDeadline } from "./deadline.js";
import { GmqError } from "./errors.js";

/**
 * The state machine of a request-only transport (HTTP, gRPC-web): there is nothing to open, so the
 * client is usable at once, and reachability is learnt from what requests meet. A link here is a
 * period in which the backend is believed reachable: `connecting` until a request gets an answer
 * (`connected`), ended by a network failure (`disconnected`, with the cause). Then nothing is
 * sent until the backoff has passed (the same backoff as reconnects); the `online` signal or an
 * answer that arrives meanwhile ends the wait early.
 */
export class RequestConnection extends ConnectionCore {
  #usable = false;

  get ready(): Link | undefined {
    return this.#usable ? this.link : undefined;
  }

  /** A request got an answer from the backend (even an error answer): it is reachable. */
  reachable(): void {
    if (this.#usable) {
      this.attempt = 0;
      this.holder.set("connected", "the backend answered", 0);
    } else {
      this.wake();
    }
  }

  /** A request failed because the backend could not be reached. */
  unreachable(error: GmqError): void {
    this.loseCurrent?.(error);
  }

  waitReady(signal: AbortSignal, failFast = false): Promise<Link> {
    const link = this.ready;
    if (link) return Promise.resolve(link);
    if (this.holder.state === "closed") return Promise.reject(new GmqError("closed", "client is closed"));
    if (failFast && this.running && this.holder.state === "disconnected") {
      const cause = this.lastError;
      const why = cause ? `: ${cause.message}` : "";
      return Promise.reject(new GmqError("disconnected", `the backend is unreachable${why}`, { cause }));
    }
    this.start();
    return this.waiters.wait(signal);
  }

  protected override linkGone(): void {
    this.#usable = false;
  }

  protected async run(): Promise<void> {
    while (!this.closing.signal.aborted) {
      const error = await this.#linkOnce();
      if (this.closing.signal.aborted) break;
      this.lastError = error;
      const givesUp = await this.givesUp(error);
      if (this.closing.signal.aborted) break;
      if (givesUp) {
        this.running = false;
        this.waiters.rejectAll(error);
        return;
      }
      await this.sleep(backoffDelay(this.attempt++, this.options.reconnect || undefined));
    }
  }

  /** One period of believed reachability, from its setup to the failure that ends it. */
  async #linkOnce(): Promise<GmqError> {
    const controller = new AbortController();
    const link: Link = { generation: ++this.generation, signal: controller.signal };
    let lost!: (error: GmqError) => void;
    const gone = new Promise<GmqError>((resolve) => {
      lost = resolve;
    });
    this.loseCurrent = lost;
    this.link = link;
    this.holder.set("connecting", this.attempt > 0 ? "retrying" : "ready to send", this.attempt);
    try {
      await withDeadline(
        { signal: this.closing.signal, timeoutMs: this.options.connectTimeoutMs, what: "setup" },
        () => Promise.race([this.hooks.setup(link), gone.then((error) => Promise.reject(error))]),
      );
    } catch (cause) {
      const error = GmqError.from(cause, "disconnected");
      controller.abort(error);
      if (this.link === link) this.link = undefined;
      if (!this.closing.signal.aborted) {
        this.hooks.onError(error);
        this.holder.set("disconnected", error.message, this.attempt + 1, error);
      }
      return error;
    }
    this.#usable = true;
    this.waiters.resolveAll(link);
    this.hooks.up(link);
    const error = await gone;
    this.#usable = false;
    controller.abort(error);
    if (this.link === link) this.link = undefined;
    if (!this.closing.signal.aborted) {
      this.holder.set("disconnected", error.message, this.attempt + 1, error);
      this.hooks.down(link, error);
    }
    return error;
  }
}
