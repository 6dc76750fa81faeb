/**
 * A complete request-only gmq adapter, written only against the public contract (`gmq`): calls
 * and publishes as plain HTTP requests with `fetch`, to the tiny RPC endpoint in
 * `rpc-server.ts`. There is no connection to keep, so there is no `connect`: the client is
 * usable at once and learns whether the server is reachable from what the requests meet. Read it
 * with the README section "Writing an adapter".
 *
 *   POST <url>/publish/<topic>          body: payload bytes   → 204
 *   POST <url>/call/<service>/<method>  body: payload bytes   → 200 result | 404 | 500 {message}
 */
import { type CallRequest, type CallResponse, GmqError, type OutboundMessage, type Transport } from "gmq";

export interface FetchTransportOptions {
  /** The endpoint, e.g. `http://127.0.0.1:8090/rpc`. */
  url: string;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
}

const CONTENT_TYPES: Record<string, string> = { json: "application/json", text: "text/plain; charset=utf-8" };

export function fetchTransport(options: FetchTransportOptions): Transport {
  let base: URL;
  try {
    base = new URL(options.url); // bad input fails at once
  } catch {
    throw GmqError.invalid("url", `not a URL: "${String(options?.url)}"`);
  }
  const send = options.fetch ?? globalThis.fetch;
  /** Requests under way, so `disconnect` can cancel them. */
  const inFlight = new Set<AbortController>();

  /** One request; a failure to reach the server at all is `disconnected`, which the core retries. */
  const request = async (
    path: string,
    body: Uint8Array,
    headers: Record<string, string>,
    signal: AbortSignal,
  ) => {
    const controller = new AbortController();
    const stop = () => controller.abort(signal.reason);
    signal.addEventListener("abort", stop, { once: true });
    inFlight.add(controller);
    try {
      return await send(new URL(path, `${base.href.replace(/\/?$/, "/")}`), {
        method: "POST",
        body: body as BodyInit,
        headers,
        signal: controller.signal,
      });
    } catch (error) {
      if (signal.aborted) throw GmqError.from(signal.reason, "aborted");
      throw new GmqError("disconnected", `cannot reach ${base.origin}: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      signal.removeEventListener("abort", stop);
      inFlight.delete(controller);
    }
  };

  /** A reply that is not a success, as the one GmqError code it means. */
  const failure = async (response: Response, what: string): Promise<GmqError> => {
    const text = await response.text().catch(() => "");
    let body: { message?: string; reason?: string } = {};
    try {
      body = JSON.parse(text);
    } catch {}
    const message = `${what}: ${body.message ?? (text || response.statusText)}`;
    const reason = body.reason ?? `HTTP_${response.status}`;
    if (response.status === 404) return new GmqError("no_responder", message, { reason });
    if (response.status === 400) return new GmqError("invalid_argument", message, { reason });
    if (response.status === 503) return new GmqError("busy", message, { reason });
    return new GmqError("remote", message, { reason, details: { status: response.status } });
  };

  return {
    name: "fetch",
    capabilities: {
      connection: "request", // no connect(): every operation is a request of its own
      inbound: "none", // nothing arrives unasked: subscribe() is refused with `unsupported`
      wildcards: false,
      requestReply: true,
      ack: false,
      delay: false,
      binary: true,
      queues: false,
      headers: true,
      retain: false,
    },
    // Topics and methods are URL paths here, so "/" is fine inside them.
    naming: {
      topic: (topic) =>
        /^[\w.~/-]+$/.test(topic) ? undefined : `must be URL path characters, got "${topic}"`,
      service: (service) =>
        /^[\w.-]+$/.test(service) ? undefined : `must be letters, digits, _ . -, got "${service}"`,
      method: (method) =>
        /^[\w.~/-]+$/.test(method) ? undefined : `must be URL path characters, got "${method}"`,
    },

    async disconnect() {
      for (const controller of inFlight) controller.abort(new GmqError("closed", "client closed"));
    },

    async publish(message: OutboundMessage, { signal }) {
      const headers: Record<string, string> = { ...message.headers, "gmq-id": message.id };
      const response = await request(`publish/${message.topic}`, message.payload, headers, signal);
      if (!response.ok) throw await failure(response, `publish to ${message.topic}`);
    },

    async call({ service, method, payload, codec, headers, signal }: CallRequest): Promise<CallResponse> {
      const contentType = CONTENT_TYPES[codec] ?? "application/octet-stream";
      const response = await request(
        `call/${service}/${method}`,
        payload,
        { ...headers, "content-type": contentType },
        signal,
      );
      if (!response.ok) throw await failure(response, `call ${service}.${method}`);
      return { payload: new Uint8Array(await response.arrayBuffer()) };
    },
  };
}
