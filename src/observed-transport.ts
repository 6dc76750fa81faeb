import type { Connection } from "./connection.js";
import { GmqError } from "./errors.js";
import type { StreamSink, Transport, TransportSubscribeOptions } from "./transport.js";

/** Codes that say nothing about whether the backend answered. */
const SILENT = new Set(["timeout", "aborted", "closed"]);

/**
 * A request-only transport as the client uses it: every outcome tells the connection whether the
 * backend is reachable. A `disconnected` failure means it is not; anything the backend answered,
 * errors included, means it is. Link transports are used as they are.
 */
export function observeRequests(transport: Transport, connection: Connection): Transport {
  const failed = (cause: unknown): void => {
    const error = GmqError.from(cause, "disconnected");
    if (error.code === "disconnected") connection.unreachable(error);
    else if (!SILENT.has(error.code)) connection.reachable();
  };
  const observe = <T>(work: Promise<T>): Promise<T> =>
    work.then(
      (value) => {
        connection.reachable();
        return value;
      },
      (cause: unknown) => {
        failed(cause);
        throw cause;
      },
    );
  const observedSink = (sink: StreamSink): StreamSink => ({
    message(message) {
      connection.reachable();
      sink.message(message);
    },
    end(error) {
      if (error !== undefined) failed(error);
      sink.end(error);
    },
  });
  const observed: Transport = {
    name: transport.name,
    capabilities: transport.capabilities,
    ...(transport.naming && { naming: transport.naming }),
    disconnect: () => transport.disconnect(),
    publish: (message, options) => observe(transport.publish(message, options)),
  };
  const { publishBatch, subscribe, unsubscribe, call } = transport;
  return Object.assign(observed, {
    ...(publishBatch && {
      publishBatch: (messages, options) =>
        observe(publishBatch.call(transport, messages, options)).then((results) => {
          for (const result of results) if (result !== undefined) failed(result);
          return results;
        }),
    }),
    ...(subscribe && {
      subscribe: (request, options: TransportSubscribeOptions) =>
        observe(subscribe.call(transport, request, { ...options, sink: observedSink(options.sink) })),
    }),
    ...(unsubscribe && { unsubscribe: unsubscribe.bind(transport) }),
    ...(call && { call: (request) => observe(call.call(transport, request)) }),
  } satisfies Partial<Transport>);
}
