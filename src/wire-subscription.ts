import { abortWatcher, unwatchAbort, watchAbort } from "./abort-watch.js";
import { type BackoffOptions, backoffDelay } from "./backoff.js";
import type { Link } from "./connection.js";
import { DedupWindow } from "./dedup.js";
import { GmqError, isPermanent } from "./errors.js";
import { WireFlow } from "./flow.js";
import { type AckOwner, dispatch } from "./message.js";
import type { Positions } from "./positions.js";
import { sleep } from "./sleep.js";
import type { Subscription } from "./subscription.js";
import type {
  InboundMessage,
  StreamSink,
  SubscribeRequest,
  SubscribeResult,
  Transport,
} from "./transport.js";

/** A stream that ran this long counts as healthy: its next failure starts the backoff afresh. */
const STABLE_AFTER_MS = 5_000;
/** A subscribe that failed with these was not refused by the backend: it is retried. */
const TRANSIENT: ReadonlySet<string> = new Set(["disconnected", "timeout", "busy"]);

export interface WireContext {
  readonly transport: Transport;
  readonly reconnect: Required<BackoffOptions> | false;
  readonly dedupWindow: number;
  readonly positions: Positions;
  onError(error: GmqError): void;
}

/**
 * One subscription on the wire, shared by every local subscription with the same pattern, queue
 * and arguments. It runs on a link: subscribe, then wait until the link is lost, or until the
 * transport ends it (a stream that ended or failed), which restarts it with backoff like a lost
 * connection. A subscribe the backend refuses ends its members with the error; one that failed
 * for the network is retried.
 */
export class WireSubscription implements AckOwner {
  readonly members = new Set<Subscription<any>>();
  readonly flow = new WireFlow(this.members);
  /** The request as last confirmed by the backend on the current link. */
  active: SubscribeRequest | undefined;
  #link: Link | undefined;
  #attempt: AbortController | undefined;
  #failures = 0;
  #dedup: DedupWindow | undefined;
  #closed = false;
  /** Where the stream was: the position of the last message every member handled. */
  #position: string | undefined;
  readonly #positionRead: Promise<void>;
  readonly #context: WireContext;
  readonly #key: string;

  constructor(
    context: WireContext,
    public request: SubscribeRequest,
    /** Names it in the store that keeps positions. */
    key: string,
  ) {
    this.#context = context;
    this.#key = key;
    this.#positionRead =
      context.transport.capabilities.inbound === "stream"
        ? context.positions.read(key).then((position) => {
            this.#position ??= position;
          })
        : Promise.resolve();
  }

  requeued(id: string): void {
    this.#dedup?.forget(id);
  }

  acked(inbound: InboundMessage): void {
    if (inbound.id !== undefined) this.#dedup?.acked(inbound.id);
    if (inbound.position === undefined) return;
    this.#position = inbound.position;
    this.#context.positions.write(this.#key, inbound.position);
  }

  /** Subscribes on `link` and keeps it so; resolves once the first attempt has settled. */
  attach(link: Link): Promise<void> {
    this.#link = link;
    this.active = undefined;
    this.#attempt?.abort(new GmqError("closed", "superseded"));
    return new Promise((settled) => void this.#run(link, settled));
  }

  /** The link is gone: stop, and tell the members why. */
  detach(error: GmqError | undefined): void {
    this.#link = undefined;
    this.active = undefined;
    this.#attempt?.abort(error ?? new GmqError("disconnected", "connection lost"));
    if (error) for (const member of this.members) member.interrupted(error);
  }

  /** The last member left: stop, and tell a routed backend. */
  async close(): Promise<void> {
    this.#closed = true;
    const link = this.#link;
    const active = this.active;
    this.#link = undefined;
    this.active = undefined;
    this.#attempt?.abort(new GmqError("closed", "unsubscribed"));
    const { transport } = this.#context;
    if (link && active && transport.unsubscribe && !link.signal.aborted) {
      await transport.unsubscribe(active, { signal: link.signal }).catch((error: unknown) => {
        this.#context.onError(GmqError.from(error));
      });
    }
  }

  /** A message of this stream: straight to the members, once per id. */
  deliver(inbound: InboundMessage): void {
    const { dedupWindow, onError } = this.#context;
    this.#dedup ??= dedupWindow > 0 ? new DedupWindow(dedupWindow) : undefined;
    dispatch(inbound, this.members, this.#dedup, this, onError);
  }

  async #run(link: Link, settled: () => void): Promise<void> {
    let first = true;
    const done = (): void => {
      if (first) settled();
      first = false;
    };
    while (!this.#closed && this.#link === link && !link.signal.aborted) {
      const controller = new AbortController();
      this.#attempt = controller;
      const outcome = await this.#runOnce(link, controller, done);
      controller.abort(outcome.error);
      // Lost, closed or superseded: whoever did that decides what comes next.
      if (this.#attempt !== controller || this.#closed || this.#link !== link || link.signal.aborted) break;
      this.active = undefined;
      const { error } = outcome;
      if (outcome.refused || isPermanent(error) || this.#context.reconnect === false) {
        done();
        for (const member of [...this.members]) member.refused(error);
        return;
      }
      if (outcome.reported) this.#context.onError(error);
      for (const member of this.members) member.interrupted(error);
      done();
      if (outcome.ranMs >= STABLE_AFTER_MS) this.#failures = 0;
      await sleep(backoffDelay(this.#failures++, this.#context.reconnect), link.signal);
    }
    done();
  }

  /** One subscribe, and the wait for its end. */
  async #runOnce(
    link: Link,
    controller: AbortController,
    started: () => void,
  ): Promise<{ error: GmqError; refused: boolean; reported: boolean; ranMs: number }> {
    const { signal } = controller;
    const follow = abortWatcher(() => controller.abort(link.signal.reason));
    watchAbort(link.signal, follow);
    let end!: (outcome: { error: GmqError; reported: boolean }) => void;
    const ended = new Promise<{ error: GmqError; reported: boolean }>((resolve) => {
      end = resolve;
    });
    const stopped = abortWatcher(() =>
      end({ error: GmqError.from(signal.reason, "disconnected"), reported: false }),
    );
    const sink: StreamSink = {
      message: (message) => {
        if (!signal.aborted) this.deliver(message);
      },
      end: (error) => {
        if (signal.aborted) return;
        const failure = error === undefined ? undefined : GmqError.from(error, "disconnected");
        end({ error: failure ?? new GmqError("disconnected", "the stream ended"), reported: !!failure });
      },
    };
    await this.#positionRead;
    const request = this.request;
    const startedAt = Date.now();
    let result: SubscribeResult | undefined;
    try {
      const asked = this.#position === undefined ? request : { ...request, position: this.#position };
      result =
        (await this.#context.transport.subscribe!(asked, { signal, sink, flow: this.flow })) ?? undefined;
    } catch (cause) {
      unwatchAbort(link.signal, follow);
      const error = GmqError.from(cause, "disconnected");
      // Refused by the backend (it answered), or failed for the network or load (retried).
      return { error, refused: !TRANSIENT.has(error.code), reported: true, ranMs: 0 };
    }
    if (!signal.aborted) {
      this.active = request;
      if (result?.recovered === false || (this.#position === undefined && result?.position !== undefined)) {
        // Some messages are lost for good, or this is the stream's first subscribe: resume from
        // where the stream is now (a subscriber cut off before its first message still resumes).
        this.#position = result.position;
        this.#context.positions.write(this.#key, result.position);
      }
      for (const member of this.members) member.confirmed(result?.recovered);
      started();
      watchAbort(signal, stopped);
    } else {
      stopped.aborted(signal);
    }
    const outcome = await ended;
    unwatchAbort(link.signal, follow);
    unwatchAbort(signal, stopped);
    return { ...outcome, refused: false, ranMs: Date.now() - startedAt };
  }
}
