/**
 * One gmq node's HTTP API (spec §2): GET with a query string for everything, `/push` as an
 * urlencoded POST with one field `data` (simple requests: no preflight, no custom headers), the
 * `{"code","data","msg"}` envelope, and every id a decimal string.
 */
import { GmqError } from "gmq";
import { type ClusterNode, type TopicSettings, TopicSetup } from "./cluster.js";
import type { Delivery } from "./envelope.js";
import { badReply, nodeError } from "./reasons.js";

export interface GnodeReply {
  readonly code: number;
  readonly data: unknown;
  readonly msg: string;
}

export interface HttpIo {
  readonly fetch: typeof fetch;

  /** Aborts when the transport is closed. */
  readonly closed: AbortSignal;
  settings(topic: string): TopicSettings;
}

export class HttpNode implements ClusterNode {
  downUntil = 0;
  readonly setup: TopicSetup;

  constructor(
    /** e.g. `http://127.0.0.1:9504`, or a same-origin proxy path such as `/gnode`. */
    readonly url: string,
    readonly weight: number,
    private readonly io: HttpIo,
  ) {
    this.url = url.replace(/\/+$/, "");
    this.setup = new TopicSetup({
      configure: (topic) => this.configure(topic),
      declare: (topic, bindKey) => this.declare(topic, bindKey),
    });
  }

  /**
   * One request; a node that cannot be reached is `disconnected`. `signal` stops the wait, not the
   * request: Node's fetch costs about 0.1 ms more per request given a fresh signal, and one shared
   * signal collects a listener per request until it is garbage. Only `/pop`s, which may block for
   * ever, pass `fetchSignal` (see the pop loop) so that closing can end them.
   */
  async request(
    path: string,
    params: Record<string, string>,
    signal: AbortSignal,
    data?: string,
    fetchSignal?: AbortSignal,
  ): Promise<GnodeReply> {
    const what = `gnode ${path}`;
    if (signal.aborted) throw GmqError.from(signal.reason, "aborted");
    let text: string;
    let status: number;
    try {
      const sent =
        data === undefined
          ? this.io.fetch(`${this.url}${path}?${new URLSearchParams(params)}`, { signal: fetchSignal })
          : this.io.fetch(`${this.url}${path}`, { method: "POST", body: new URLSearchParams({ data }) });
      [status, text] = await untilAborted(
        sent.then(async (response) => [response.status, await response.text()] as const),
        signal,
      );
    } catch (error) {
      if (signal.aborted) throw GmqError.from(signal.reason, "aborted");
      throw new GmqError("disconnected", `${what}: ${(error as Error).message}`, { cause: error });
    }
    // A proxy in front of the node says it could not reach it.
    if (status >= 502 && status <= 504) throw new GmqError("disconnected", `${what}: HTTP ${status}`);
    let reply: GnodeReply | undefined;
    try {
      reply = JSON.parse(text);
    } catch {}
    if (
      status !== 200 ||
      typeof reply !== "object" ||
      reply === null ||
      (reply.code !== 0 && reply.code !== 1)
    ) {
      throw badReply(what, `HTTP ${status} ${text.slice(0, 99)}`);
    }
    return reply;
  }

  /** The reply's data, or the node's refusal as a GmqError. */
  async ok(
    path: string,
    params: Record<string, string>,
    signal = this.io.closed,
    data?: string,
    fetchSignal?: AbortSignal,
  ): Promise<unknown> {
    const reply = await this.request(path, params, signal, data, fetchSignal);
    if (reply.code !== 0) throw nodeError(reply.msg, `gnode ${path}`);
    return reply.data;
  }

  /** `/config` with all four settings: manual ack always, so a lost delivery comes back after TTR. */
  async configure(topic: string): Promise<void> {
    const s = this.io.settings(topic);
    await this.ok("/config", {
      topic,
      isAutoAck: "0",
      mode: s.routing === "regex" ? "2" : "1",
      msgTTR: String(s.msgTTR),
      msgRetry: String(s.msgRetry),
    });
  }

  /** `/declareQueue`; one that exists already is fine. */
  async declare(topic: string, bindKey: string): Promise<void> {
    const reply = await this.request("/declareQueue", { topic, bindKey }, this.io.closed);
    if (reply.code !== 0 && !reply.msg.endsWith("has exist."))
      throw nodeError(reply.msg, "gnode /declareQueue");
  }

  /** `/push` of one message (the JSON `data` field); resolves with the node's id. */
  async push(data: string, signal: AbortSignal): Promise<string> {
    const reply = (await this.ok("/push", {}, signal, data)) as { msgId?: unknown } | null;
    if (typeof reply?.msgId !== "string") throw badReply("gnode /push", "no id");
    return reply.msgId;
  }

  /** `/pop`: blocks until a message comes (there is no timeout and no "empty" reply); only
   *  aborting `fetchSignal` ends it before. */
  async pop(topic: string, bindKey: string, fetchSignal: AbortSignal): Promise<Delivery> {
    const d = (await this.ok(
      "/pop",
      { topic, bindKey },
      fetchSignal,
      undefined,
      fetchSignal,
    )) as Delivery | null;
    if (typeof d?.id !== "string" || typeof d.body !== "string" || typeof d.retry_count !== "number") {
      throw badReply("gnode /pop", "no message");
    }
    return d;
  }

  async ack(id: string, topic: string, bindKey: string): Promise<void> {
    await this.ok("/ack", { msgId: id, topic, bindKey });
  }
}

/** `work`, or a rejection with the signal's reason as soon as `signal` aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const stop = (): void => reject(signal.reason);
    signal.addEventListener("abort", stop, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", stop));
  });
}
