import { abortError, abortWatcher, unwatchAbort, watchAbort } from "./abort-watch.js";
import { GmqError } from "./errors.js";
import { check } from "./validate.js";

/**
 * One place that turns a user's `signal` and `timeoutMs` into a single AbortSignal whose
 * `reason` is already the GmqError to reject with. `dispose()` removes every listener and timer,
 * so a finished operation leaves nothing behind.
 */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Throws the GmqError if the deadline has already passed or the caller aborted. */
  throwIfDone(): void;
  /** Rejects with the GmqError when the deadline passes; never resolves. */
  readonly done: Promise<never>;
  /** Also end when `other` aborts (e.g. the connection is lost), with its reason. Cheaper than
   *  `AbortSignal.any`, which costs about 10 µs per call on Node 20. */
  follow(other: AbortSignal): void;
  dispose(): void;
}

export interface DeadlineOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  /** What the operation is called in the timeout message, e.g. `call Chat.HD_Say`. */
  what?: string;
}

export function createDeadline(options: DeadlineOptions = {}): Deadline {
  check(options, { timeoutMs: "ms", signal: "signal" });
  const controller = new AbortController();
  const what = options.what ?? "operation";
  let timer: ReturnType<typeof setTimeout> | undefined;
  let rejectDone: (error: GmqError) => void = () => {};
  const done = new Promise<never>((_, reject) => {
    rejectDone = reject;
  });
  // A deadline nobody awaits must not surface as an unhandled rejection.
  done.catch(() => {});

  const finish = (error: GmqError): void => {
    if (controller.signal.aborted) return;
    cleanup();
    controller.abort(error);
    rejectDone(error);
  };
  // The caller's signal fails it as `aborted`; followed ones (the connection's) with their reason.
  const onAbort = abortWatcher((signal) =>
    finish(
      signal === options.signal ? abortError(signal, what) : GmqError.from(signal.reason, "disconnected"),
    ),
  );
  const watched: AbortSignal[] = [];
  const cleanup = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    for (const signal of watched.splice(0)) unwatchAbort(signal, onAbort);
  };
  const watch = (signal: AbortSignal): void => {
    if (signal.aborted) onAbort.aborted(signal);
    else if (!controller.signal.aborted) {
      watchAbort(signal, onAbort);
      watched.push(signal);
    }
  };

  if (options.signal) watch(options.signal);
  const ms = options.timeoutMs;
  if (ms !== undefined && !controller.signal.aborted) {
    timer = setTimeout(() => finish(new GmqError("timeout", `${what} timed out after ${ms} ms`)), ms);
  }

  return {
    signal: controller.signal,
    done,
    throwIfDone() {
      if (controller.signal.aborted) throw controller.signal.reason as GmqError;
    },
    dispose: cleanup,
    follow: watch,
  };
}

/** Races `work` against the deadline and always disposes it. */
export async function withDeadline<T>(
  options: DeadlineOptions,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const deadline = createDeadline(options);
  try {
    deadline.throwIfDone();
    return await Promise.race([work(deadline.signal), deadline.done]);
  } finally {
    deadline.dispose();
  }
}
