/**
 * One gmq node's HTTP API (spec §2): GET with a query string for everything, `/push` as an
 * urlencoded POST with one field `data` (simple requests: no preflight, no custom headers), the
 * `{"code","data","msg"}` envelope, and every id a decimal string.
 */
import { GmqError } from "gmq";
import { type ClusterNode, TopicSetup } from "./cluster.js";
import { type Delivery, delivery } from "./envelope.js";
import { badReply, nodeError, noop, unreachable } from "./reasons.js";
import type { Topic } from "./settings.js";

interface GnodeReply {
  readonly code: number;
  readonly data: unknown;
  readonly msg: string;
}

export interface HttpIo {
  readonly fetch: typeof fetch;
  /** Aborts when the transport is closed. */
  readonly closed: AbortSignal;
}

/** `fetch` as given, or the global one (looked up at each call). */
export const fetchOf = (given?: typeof fetch): typeof fetch => given ?? ((input, init) => fetch(input, init));

/** A declare refused because the queue exists already: that is fine. */
export function unlessExisting(error: unknown): void {
  if (!(error as Error)?.message?.endsWith("has exist.")) throw error;
}

/**
 * The reply's data from the node at `url`, or the node's refusal as a GmqError; a node that cannot
 * be reached is `disconnected`. `signal` stops the wait, not the request: Node's fetch costs about
 * 0.1 ms more per request given a signal, and one shared signal collects a listener per request
 * until the request is garbage. Only `/pop`s, which may block for ever, pass `fetchSignal` so that
 * closing can end them.
 */
export async function call(
  io: HttpIo,
  url: string,
  path: string,
  params: Record<string, string>,
  signal = io.closed,
  data?: string,
  fetchSignal?: AbortSignal,
): Promise<unknown> {
  const what = `gnode ${path}`;
  let status: number;
  let text: string;
  try {
    signal.throwIfAborted();
    [status, text] = await new Promise<[number, string]>((resolve, reject) => {
      const stop = (): void => reject(signal.reason);
      signal.addEventListener("abort", stop);
      io.fetch(
        `${url}${path}${data === undefined ? `?${new URLSearchParams(params)}` : ""}`,
        data === undefined
          ? { signal: fetchSignal }
          : { method: "POST", body: new URLSearchParams({ data }) },
      )
        .then(async (response) => resolve([response.status, await response.text()]))
        .catch(reject)
        .finally(() => signal.removeEventListener("abort", stop));
    });
  } catch (error) {
    if (signal.aborted) throw GmqError.from(signal.reason, "aborted");
    throw unreachable(`${what}: ${(error as Error).message}`, error);
  }
  // A proxy in front of the node says it could not reach it.
  if (status > 501 && status < 505) throw unreachable(`${what}: HTTP ${status}`);
  let reply: GnodeReply | undefined;
  try {
    reply = JSON.parse(text);
  } catch {}
  if (status !== 200 || !(reply?.code === 0 || reply?.code === 1)) {
    throw badReply(what, `HTTP ${status} ${text.slice(0, 99)}`);
  }
  if (reply.code) throw nodeError(reply.msg, what);
  return reply.data;
}

/** `/config` with all four settings (an absent `isAutoAck` would switch manual ack off). */
export async function configure(
  io: HttpIo,
  url: string,
  topic: string,
  settings: Omit<Topic, "queues">,
  autoAck = false,
): Promise<void> {
  await call(io, url, "/config", {
    topic,
    isAutoAck: autoAck ? "1" : "0",
    mode: settings.routing === "regex" ? "2" : "1",
    msgTTR: `${settings.msgTTR}`,
    msgRetry: `${settings.msgRetry}`,
  });
}

/** A node's base URL: e.g. `http://127.0.0.1:9504`, or a same-origin proxy path such as `/gnode`. */
export const baseUrl = (url: string): string => url.replace(/\/+$/, "");

/** A node of the HTTP adapter: manual ack always, so a lost delivery comes back after TTR. */
export class HttpNode implements ClusterNode {
  downUntil = 0;
  readonly setup: TopicSetup;
  readonly #call;

  constructor(
    io: HttpIo,
    url: string,
    readonly weight: number,
    topic: (name: string) => Topic,
  ) {
    const base = baseUrl(url);
    this.#call = (...args: [string, Record<string, string>, AbortSignal?, string?, AbortSignal?]) =>
      call(io, base, ...args);
    this.setup = new TopicSetup((name, bindKey) =>
      bindKey === undefined
        ? configure(io, base, name, topic(name))
        : this.#call("/declareQueue", { topic: name, bindKey }).then(noop, unlessExisting),
    );
  }

  /** `/push` of one message (the JSON `data` field). */
  async push(data: string, signal?: AbortSignal): Promise<void> {
    await this.#call("/push", {}, signal, data);
  }

  /** `/pop`: blocks until a message comes (there is no timeout and no "empty" reply); only
   *  aborting `fetchSignal` ends it before. */
  async pop(topic: string, bindKey: string, fetchSignal?: AbortSignal): Promise<Delivery> {
    return delivery(
      await this.#call("/pop", { topic, bindKey }, undefined, undefined, fetchSignal),
      "gnode /pop",
    );
  }

  async ack(id: string, topic: string, bindKey: string): Promise<void> {
    await this.#call("/ack", { msgId: id, topic, bindKey });
  }
}
