/**
 * nice-grpc-web reports a server it could not reach (fetch rejected, the response cut off) as
 * status UNKNOWN "Transport error", which cannot be told from a server's own UNKNOWN. This
 * wrapper around a nice-grpc-web Transport reports it as gRPC clients do, status UNAVAILABLE,
 * with a marker in the trailers, so the adapter can say `disconnected` (reason UNREACHABLE)
 * and the core's request-only state machine sees a network failure.
 */
import { type Channel, ClientError, Metadata, Status } from "nice-grpc-web";
import { UNREACHABLE_KEY } from "./status.js";

export function reportUnreachable(inner: Channel["transport"]): Channel["transport"] {
  return async function* reachTransport(params) {
    let answered = false;
    try {
      for await (const frame of inner(params)) {
        if (frame.type === "header") answered = true;
        yield frame;
      }
    } catch (error) {
      if (params.signal.aborted) throw error;
      // An HTTP error status from the transport keeps its gRPC status; anything else is the network.
      const known = error instanceof ClientError;
      const status = Metadata({
        "grpc-status": String(known ? error.code : Status.UNAVAILABLE),
        "grpc-message": encodeURIComponent(
          known
            ? error.details
            : `cannot reach ${params.url}: ${error} ${(error as { cause?: unknown })?.cause ?? ""}`,
        ),
      });
      if (!known) status.set(UNREACHABLE_KEY, "1");
      // Before the headers: a trailers-only answer; after them, the trailers.
      yield answered ? { type: "trailer", trailer: status } : { type: "header", header: status };
    }
  };
}
