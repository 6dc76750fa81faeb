/**
 * `grpcWeb()`: a request-only gmq transport over gRPC-web (nice-grpc-web). Unary methods are
 * calls (`call("pkg.Service", "method", request)`) and, for fire-and-forget or idempotent
 * methods, outbox publishes (`publish("pkg.Service/method", request)`); server-streaming methods
 * are subscriptions (`subscribe("pkg.Service/method", handler, { args })`).
 */
import { type CallRequest, type CallResponse, GmqError, type Transport } from "gmq";
import { createChannel, FetchTransport, type Metadata } from "nice-grpc-web";
import { type GrpcWebOptions, resolveOptions } from "./options.js";
import { reportUnreachable } from "./reach.js";
import { requestBytes, responseBytes, type ServiceMethod, Services } from "./services.js";
import { grpcError } from "./status.js";
import { openStream } from "./stream.js";
import { GrpcWebTextTransport } from "./text-transport.js";

/** `grpc-timeout`: at most 8 digits, in milliseconds or, beyond that, seconds. */
function grpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  return whole < 1e8 ? `${whole}m` : `${Math.ceil(whole / 1000)}S`;
}

export function grpcWeb(options: GrpcWebOptions): Transport {
  const o = resolveOptions(options);
  const credentials = o.credentials && { credentials: o.credentials };
  const wire =
    o.transport ?? (o.mode === "text" ? GrpcWebTextTransport(credentials) : FetchTransport(credentials));
  const services = new Services(o.services, createChannel(o.url, reportUnreachable(wire)));

  /** The app's metadata for one request (only asked when there is a provider). */
  const provided = async () => {
    try {
      return await o.metadata!();
    } catch (error) {
      throw GmqError.from(error, "unauthenticated");
    }
  };
  /** The request's metadata as a plain object: nice-grpc-web copies it into its own Metadata. */
  const metadataFor = (base?: Record<string, string>, headers?: object, timeoutMs?: number) => {
    const metadata: Record<string, string> = { ...base, ...headers };
    if (timeoutMs !== undefined) metadata["grpc-timeout"] = grpcTimeout(timeoutMs);
    return metadata;
  };

  /**
   * One unary call: bytes (or JSON) in, bytes (or JSON) out, failures as GmqError. `signal` is
   * the core's: it aborts when the caller gives up, the call fails or the client closes, so the
   * fetch is cancelled then without a controller of our own per call.
   */
  const unary = async (
    method: ServiceMethod,
    payload: Uint8Array,
    codec: string,
    signal: AbortSignal,
    headers?: Readonly<Record<string, string>>,
    timeoutMs?: number,
  ): Promise<Uint8Array> => {
    const { requestType, responseType } = method.definition;
    const request = requestBytes(requestType, payload, codec);
    let trailer: Metadata | undefined;
    try {
      const metadata = metadataFor(o.metadata && (await provided()), headers, timeoutMs);
      const reply = await method.invoke(request, {
        metadata,
        signal,
        onTrailer: (t: Metadata) => (trailer = t),
      });
      return responseBytes(responseType, reply, codec);
    } catch (error) {
      throw GmqError.is(error) ? error : grpcError(error, trailer, signal);
    }
  };

  const problem = (ok: unknown, name: string, what: string) =>
    ok ? undefined : `must be ${what} of a registered service, got "${name}"`;
  const METHOD = '"<package.Service>/<method>"';

  return {
    name: "grpc-web",
    capabilities: {
      connection: "request",
      inbound: "stream",
      wildcards: false,
      requestReply: true,
      ack: false,
      delay: false,
      binary: false,
      queues: false,
      headers: false,
      retain: false,
    },
    naming: {
      service: (name) => problem(services.services.has(name), name, "the full name"),
      method: (name) => problem(services.methodNames.has(name), name, "a method"),
      topic: (name) => problem(services.byPath(name, false), name, `${METHOD}, a unary method,`),
      pattern: (name) => problem(services.byPath(name, true), name, `${METHOD}, a server stream,`),
    },

    // Nothing to close: every request ends by its own signal, which the core aborts on close.
    async disconnect() {},

    // Fire-and-forget or idempotent unary methods through the outbox: accepted once the server
    // answered OK (the response is not kept). The payload is the client codec's JSON.
    async publish(message, { signal }) {
      const method = services.byPath(message.topic, false);
      // A record queued by an app that registered other services: give it up, never retry it.
      if (!method) throw GmqError.invalid("topic", `not registered: ${message.topic}`);
      await unary(method, message.payload, "json", signal, message.headers);
    },

    async call(request: CallRequest): Promise<CallResponse> {
      const { service, method: name } = request;
      const method = services.get(service, name);
      const d = method?.definition;
      // A method of another service, or a stream (server streams are subscriptions).
      if (!d || d.requestStream || d.responseStream)
        throw GmqError.invalid("method", `not a unary method of ${service}`);
      const { payload, codec, signal, headers, timeoutMs } = request;
      return { payload: await unary(method, payload, codec, signal, headers, timeoutMs) };
    },

    async subscribe(request, subscribeOptions) {
      const metadata = metadataFor(o.metadata && (await provided()));
      await openStream(services.byPath(request.pattern, true)!, request, subscribeOptions, metadata);
    },
  };
}
