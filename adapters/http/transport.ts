/**
 * `http()`: a request-only gmq transport over `fetch`: calls and outbox publishes as HTTP
 * requests to routes, in the gw123 `/gapi` dialect or mqant's HTTP gateway dialect.
 */
import { GmqError, type Transport } from "gmq";
import { readEnvelope, readMqant } from "./errors.js";
import { type HttpOptions, resolveOptions } from "./options.js";
import { HTTP_REASONS } from "./reasons.js";
import { formEncode, parseRoute, type Route, routeProblem, serviceProblem } from "./routes.js";

const CONTENT_TYPES: Record<string, string> = { json: "application/json", text: "text/plain; charset=utf-8" };
const FORM = "application/x-www-form-urlencoded";

export function http(options: HttpOptions): Transport {
  const o = resolveOptions(options);
  const read = o.dialect === "mqant" ? readMqant : readEnvelope;
  /** Requests under way, so `disconnect` can cancel them. */
  const inFlight = new Set<AbortController>();
  /** The token the server last refused, for `shouldRetry`. */
  let refused: string | undefined;

  const token = async (refresh: boolean, rejected?: string): Promise<string | undefined> => {
    try {
      return (await o.token?.({ refresh, ...(rejected !== undefined && { rejected }) })) || undefined;
    } catch (error) {
      throw GmqError.from(error, "unauthenticated");
    }
  };

  /** One HTTP request; no answer at all is `disconnected`, which the core retries. */
  const fetchOnce = async (
    { verb, path }: Route,
    payload: Uint8Array,
    codec: string,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<Response> => {
    const url = new URL(o.url + path);
    const init: RequestInit = {
      method: verb,
      headers,
      signal,
      ...(o.credentials && { credentials: o.credentials }),
    };
    const form = headers["content-type"] === FORM;
    if (verb === "GET" || verb === "DELETE") url.search = formEncode(payload);
    else if (form) init.body = formEncode(payload);
    else {
      init.body = payload as BodyInit;
      headers["content-type"] ??= CONTENT_TYPES[codec] ?? "application/octet-stream";
    }
    try {
      return await (o.fetch ?? fetch)(url, init);
    } catch (error) {
      if (signal.aborted) throw GmqError.from(signal.reason, "aborted");
      const cause = (error as { cause?: { message?: string } }).cause?.message;
      throw new GmqError(
        "disconnected",
        `no answer from ${url.origin}: ${(error as Error).message}${cause ? ` (${cause})` : ""}`,
        { reason: HTTP_REASONS.UNREACHABLE, cause: error },
      );
    }
  };

  /** A request with the current token, sent once more with a fresh one if the server refuses it. */
  const send = async (
    route: Route,
    payload: Uint8Array,
    codec: string,
    signal: AbortSignal,
    callHeaders?: Readonly<Record<string, string>>,
  ): Promise<Uint8Array> => {
    const controller = new AbortController();
    const stop = () => controller.abort(signal.reason);
    signal.addEventListener("abort", stop, { once: true });
    inFlight.add(controller);
    try {
      if (signal.aborted) stop();
      let current = await token(false);
      for (let retried = false; ; retried = true) {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(callHeaders ?? {})) headers[name.toLowerCase()] = value;
        if (current) headers.authorization = `${o.scheme ?? "Bearer"} ${current}`;
        const response = await fetchOnce(route, payload, codec, headers, controller.signal);
        try {
          return await read(response, codec);
        } catch (error) {
          if (retried || !o.token || !GmqError.is(error) || error.code !== "unauthenticated") throw error;
          refused = current;
          const fresh = await token(true, current);
          if (!fresh || fresh === current) throw error;
          current = fresh;
        }
      }
    } catch (error) {
      throw controller.signal.aborted ? GmqError.from(controller.signal.reason, "aborted") : error;
    } finally {
      signal.removeEventListener("abort", stop);
      inFlight.delete(controller);
    }
  };

  return {
    name: "http",
    capabilities: {
      connection: "request",
      inbound: "none",
      wildcards: false,
      requestReply: true,
      ack: false,
      delay: false,
      binary: false,
      queues: false,
      headers: false,
      retain: false,
    },
    naming: { service: serviceProblem, method: routeProblem, topic: routeProblem },

    /** After `unauthenticated` stopped the client: try again if the provider has a new token. */
    async shouldRetry(error) {
      if (error.code !== "unauthenticated" || !o.token) return false;
      const fresh = await token(true, refused).catch(() => undefined);
      return fresh !== undefined && fresh !== refused;
    },

    async disconnect() {
      for (const controller of inFlight) controller.abort(new GmqError("closed", "client closed"));
      inFlight.clear();
    },

    // A state-changing route through the outbox: accepted when the server says success. The
    // payload is the client codec's JSON.
    async publish(message, { signal }) {
      await send(parseRoute(message.topic, ""), message.payload, "json", signal, message.headers);
    },

    async call({ service, method, payload, codec, signal, headers }) {
      return { payload: await send(parseRoute(method, `/${service}`), payload, codec, signal, headers) };
    },
  };
}
