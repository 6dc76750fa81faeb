/**
 * A server-streaming method as a gmq subscription (`inbound: "stream"`): the stream counts as
 * established once its response headers arrive; each message goes to the sink, and the next is
 * pulled from the response body only while the subscription has credit. The core restarts the
 * stream with backoff when it ends or fails; the subscription's signal cancels it.
 */
import type { SubscribeRequest, TransportSubscribeOptions } from "gmq";
import type { Metadata } from "nice-grpc-web";
import { requestBytes, responseBytes, type ServiceMethod } from "./services.js";
import { grpcError } from "./status.js";

export async function openStream(
  method: ServiceMethod,
  request: SubscribeRequest,
  { signal, sink, flow }: TransportSubscribeOptions,
  metadata: Readonly<Record<string, string>>,
): Promise<void> {
  const { requestType, responseType } = method.definition;
  // Arguments and messages travel in the proto3 JSON mapping (the subscription's JSON codec).
  const args = requestBytes(requestType, request.args, "json");
  let trailer: Metadata | undefined;
  let established!: () => void;
  const headers = new Promise<void>((resolve) => {
    established = resolve;
  });
  const iterator: AsyncIterator<Uint8Array> = method
    .invoke(args, { metadata, signal, onHeader: established, onTrailer: (t: Metadata) => (trailer = t) })
    [Symbol.asyncIterator]();
  await flow.ready(signal);
  let next = iterator.next();
  try {
    // A stream that ends or fails before sending headers (trailers-only) settles here.
    await Promise.race([headers, next]);
  } catch (error) {
    throw grpcError(error, trailer, signal);
  }
  void (async () => {
    try {
      for (;;) {
        const result = await next;
        if (result.done) return sink.end();
        sink.message({ topic: request.pattern, payload: responseBytes(responseType, result.value, "json") });
        await flow.ready(signal);
        next = iterator.next();
      }
    } catch (error) {
      if (!signal.aborted) sink.end(grpcError(error, trailer, signal));
      // Cancelled: let the response body go.
      else iterator.return?.()?.catch(() => {});
    }
  })();
}
