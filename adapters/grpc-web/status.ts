/**
 * gRPC status → GmqError. One gmq code per status (exported, so an app can see the whole
 * mapping), the status name in `reason`, the percent-decoded `grpc-message` as the message and
 * `grpc-status-details-bin` (a google.rpc.Status) decoded into `details`.
 */
import { type ErrorCode, GmqError } from "gmq";
import { ClientError, type Metadata, Status } from "nice-grpc-web";

/**
 * The gmq code of every non-OK gRPC status. UNIMPLEMENTED is `no_responder`, not `unsupported`:
 * the server answered that nobody serves that method there, which is what `no_responder` says;
 * `unsupported` is for what this transport cannot do, refused before anything is sent.
 * UNAVAILABLE is `disconnected` (retried with backoff), as is a server that cannot be reached.
 */
export const GRPC_STATUS_CODES = {
  CANCELLED: "aborted",
  UNKNOWN: "remote",
  INVALID_ARGUMENT: "invalid_argument",
  DEADLINE_EXCEEDED: "timeout",
  NOT_FOUND: "remote",
  ALREADY_EXISTS: "remote",
  PERMISSION_DENIED: "forbidden",
  RESOURCE_EXHAUSTED: "busy",
  FAILED_PRECONDITION: "remote",
  ABORTED: "remote",
  OUT_OF_RANGE: "remote",
  UNIMPLEMENTED: "no_responder",
  INTERNAL: "remote",
  UNAVAILABLE: "disconnected",
  DATA_LOSS: "remote",
  UNAUTHENTICATED: "unauthenticated",
} as const satisfies Record<string, ErrorCode>;

export type GrpcStatusName = keyof typeof GRPC_STATUS_CODES;

/**
 * Every `reason` this adapter sets: the gRPC status names, plus UNREACHABLE (no answer from the
 * server at all: the fetch failed or the response was cut off; `disconnected`) and DECODE_ERROR
 * (a message that does not fit its protobuf type; `protocol`).
 */
export const GRPC_WEB_REASONS = {
  ...(Object.fromEntries(Object.keys(GRPC_STATUS_CODES).map((name) => [name, name])) as {
    readonly [K in GrpcStatusName]: K;
  }),
  UNREACHABLE: "UNREACHABLE",
  DECODE_ERROR: "DECODE_ERROR",
} as const;

/** A decoded `grpc-status-details-bin`: google.rpc.Status, its details left as packed Any. */
export interface GrpcStatusDetails {
  code: number;
  message: string;
  details: { typeUrl: string; value: Uint8Array }[];
}

/** Marks the trailers that stand for "the server could not be reached" (see reach.ts). */
export const UNREACHABLE_KEY = "gmq-unreachable";

const utf8 = new TextDecoder();

/** Calls `each(field, value)` for every field of a protobuf message (varints and bytes). */
function fields(bytes: Uint8Array, each: (field: number, value: number | Uint8Array) => void): void {
  let at = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 1; ; shift *= 128) {
      const byte = bytes[at++];
      if (byte === undefined) throw new Error("truncated");
      value += (byte & 127) * shift;
      if (byte < 128) return value;
    }
  };
  while (at < bytes.length) {
    const tag = varint();
    const wire = tag % 8;
    const field = Math.floor(tag / 8);
    if (wire === 0) each(field, varint());
    else if (wire === 2) {
      const length = varint();
      const start = at;
      at += length;
      if (at > bytes.length) throw new Error("truncated");
      each(field, bytes.subarray(start, at));
    } else if (wire === 1 || wire === 5) at += wire === 1 ? 8 : 4;
    else throw new Error(`wire type ${wire}`);
  }
}

/** Decodes google.rpc.Status { code = 1; message = 2; repeated Any details = 3 }. */
export function decodeStatusDetails(bytes: Uint8Array): GrpcStatusDetails {
  const status: GrpcStatusDetails = { code: 0, message: "", details: [] };
  fields(bytes, (field, value) => {
    if (field === 1 && typeof value === "number") status.code = value;
    if (field === 2 && typeof value !== "number") status.message = utf8.decode(value);
    if (field === 3 && typeof value !== "number") {
      const detail: { typeUrl: string; value: Uint8Array } = { typeUrl: "", value: new Uint8Array(0) };
      fields(value, (inner, part) => {
        if (typeof part === "number") return;
        if (inner === 1) detail.typeUrl = utf8.decode(part);
        if (inner === 2) detail.value = part;
      });
      status.details.push(detail);
    }
  });
  return status;
}

/**
 * What a failed call or stream means in gmq terms. `trailer` is what nice-grpc-web's `onTrailer`
 * reported (trailers, or the headers of a trailers-only answer); `signal` the operation's own.
 */
export function grpcError(error: unknown, trailer: Metadata | undefined, signal: AbortSignal): GmqError {
  if (signal.aborted) return GmqError.from(signal.reason, "aborted");
  if (!(error instanceof ClientError)) return GmqError.from(error, "protocol");
  const name = (Status[error.code] ?? "UNKNOWN") as GrpcStatusName;
  const unreachable = trailer?.has(UNREACHABLE_KEY);
  const packed = trailer?.get("grpc-status-details-bin");
  let details: GrpcStatusDetails | undefined;
  try {
    if (packed instanceof Uint8Array) details = decodeStatusDetails(packed);
  } catch {
    // Undecodable details leave `details` empty; the status itself still says what happened.
  }
  return new GmqError(
    unreachable ? "disconnected" : (GRPC_STATUS_CODES[name] ?? "remote"),
    error.details || `${error.path} ${name}`,
    { reason: unreachable ? GRPC_WEB_REASONS.UNREACHABLE : name, cause: error, details },
  );
}
