/**
 * One gmq node's HTTP API (spec §2): GET with a query string for everything, `/push` as an
 * urlencoded POST with one field `data` (simple requests: no preflight, no custom headers), the
 * `{"code","data","msg"}` envelope, and every id a decimal string.
 */
import { GmqError } from "gmq";
import { topicSetup } from "./cluster.js";
import { type Delivery, delivery } from "./envelope.js";
import type { Routing } from "./names.js";
import { badReply, nodeError, noop, unreachable } from "./reasons.js";
import type { Topic } from "./settings.js";

interface GnodeReply {
  readonly code: number;
  readonly data: unknown;
  readonly msg: string;
}

export interface HttpIo {
  readonly fetch: typeof fetch;
  /** What ends the waits under way (requests, and the /pops sent with a signal) when the
   *  transport closes: see `closeAll`. */
  readonly waits: Set<(error: GmqError) => void>;
}

/** `fetch` as given, or the global one (looked up at each call). */
export const fetchOf = (given?: typeof fetch): typeof fetch => given ?? ((input, init) => fetch(input, init));

/** Ends every wait under way with `error` (the transport closes). */
export function closeAll(io: HttpIo, error: GmqError): void {
  for (const stop of io.waits) stop(error);
  io.waits.clear();
}

/** A declare refused because the queue exists already: that is fine. */
export function unlessExisting(error: unknown): void {
  if (!(error as Error)?.message?.endsWith("has exist.")) throw error;
}

/**
 * The reply's data from the node at `url`, or the node's refusal as a GmqError; a node that cannot
 * be reached is `disconnected`. Closing the transport stops the wait, not the request: Node's
 * fetch costs some 5% more per request given a signal (8 µs of 175 on loopback), and one shared
 * signal collects a listener per request until the request is garbage. Only `/pop`s, which may
 * block for ever, pass `fetchSignal` so that closing can end them.
 */
export async function call(
  io: HttpIo,
  url: string,
  path: string,
  params: Record<string, string>,
  data?: string,
  fetchSignal?: AbortSignal,
): Promise<unknown> {
  const what = `gnode ${path}`;
  let status: number;
  let text: string;
  try {
    [status, text] = await new Promise<[number, string]>((resolve, reject) => {
      io.waits.add(reject);
      io.fetch(
        `${url}${path}${data === undefined ? `?${new URLSearchParams(params)}` : ""}`,
        data === undefined
          ? { signal: fetchSignal }
          : { method: "POST", body: new URLSearchParams({ data }) },
      )
        .then(async (response) => resolve([response.status, await response.text()]))
        .catch(reject)
        .finally(() => io.waits.delete(reject));
    });
  } catch (error) {
    throw GmqError.is(error) ? error : unreachable(`${what}: ${(error as Error).message}`, error);
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
  settings: { readonly routing?: Routing; readonly msgTTR: number; readonly msgRetry: number },
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

/** A node's base URL, e.g. `http://127.0.0.1:9504`, or a same-origin proxy path such as `/gnode`. */
export function baseUrl(url: unknown, field: string): string {
  if (typeof url !== "string" || url === "") throw GmqError.invalid(field, "must be a node's URL");
  return url.replace(/\/+$/, "");
}

export type HttpNode = ReturnType<typeof httpNode>;

/** A node of the HTTP adapter: manual ack always, so a lost delivery comes back after TTR. */
export function httpNode(io: HttpIo, base: string, weight: number, topic: (name: string) => Topic) {
  const request = async (path: string, params: Record<string, string>, data?: string) => {
    await call(io, base, path, params, data);
  };
  return {
    weight,
    downUntil: 0,
    setup: topicSetup((name, bindKey) =>
      bindKey === undefined
        ? configure(io, base, name, topic(name))
        : request("/declareQueue", { topic: name, bindKey }).then(noop, unlessExisting),
    ),
    /** `/push` of one message (the JSON `data` field). */
    push: (data: string) => request("/push", {}, data),
    /** `/pop`: blocks until a message comes (there is no timeout and no "empty" reply); only
     *  aborting `fetchSignal` ends it before. */
    pop: async (topic: string, bindKey: string, fetchSignal?: AbortSignal): Promise<Delivery> =>
      delivery(await call(io, base, "/pop", { topic, bindKey }, undefined, fetchSignal), "gnode /pop"),
    ack: (id: string, topic: string, bindKey: string) => request("/ack", { msgId: id, topic, bindKey }),
  };
}
