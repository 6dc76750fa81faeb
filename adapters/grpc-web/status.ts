/**
 * gRPC status → GmqError. One gmq code per status (exported, so an app can see the whole
 * mapping), the status name in `reason`, the percent-decoded `grpc-message` as the message and
 * `grpc-status-details-bin` (a google.rpc.Status) decoded into `details`.
 */
import { GmqError } from "gmq";
import { ClientError, type Metadata, Status } from "nice-grpc-web";

/**
 * The gmq code of every non-OK gRPC status. UNIMPLEMENTED is `no_responder`, not `unsupported`:
 * the server answered that nobody serves that method there, which is what `no_responder` says;
 * `unsupported` is for what this transport cannot do, refused before anything is sent.
 * UNAVAILABLE is `disconnected` (retried with backoff), as is a server that cannot be reached.
 */
export interface GrpcStatusCodes {
  readonly CANCELLED: "aborted";
  readonly UNKNOWN: "remote";
  readonly INVALID_ARGUMENT: "invalid_argument";
  readonly DEADLINE_EXCEEDED: "timeout";
  readonly NOT_FOUND: "remote";
  readonly ALREADY_EXISTS: "remote";
  readonly PERMISSION_DENIED: "forbidden";
  readonly RESOURCE_EXHAUSTED: "busy";
  readonly FAILED_PRECONDITION: "remote";
  readonly ABORTED: "remote";
  readonly OUT_OF_RANGE: "remote";
  readonly UNIMPLEMENTED: "no_responder";
  readonly INTERNAL: "remote";
  readonly UNAVAILABLE: "disconnected";
  readonly DATA_LOSS: "remote";
  readonly UNAUTHENTICATED: "unauthenticated";
}

export type GrpcStatusName = keyof GrpcStatusCodes;

/** The codes of statuses 1 to 16, in order (the names come from nice-grpc-web's `Status`). */
const CODES =
  "aborted remote invalid_argument timeout remote remote forbidden busy remote remote remote no_responder remote disconnected remote unauthenticated".split(
    " ",
  );

/** GrpcStatusCodes as a value: status name → gmq code. */
export const GRPC_STATUS_CODES = Object.fromEntries(
  CODES.map((code, i) => [Status[i + 1], code]),
) as unknown as GrpcStatusCodes;

/**
 * Every `reason` this adapter sets: the gRPC status names, plus UNREACHABLE (no answer from the
 * server at all: the fetch failed or the response was cut off; `disconnected`) and DECODE_ERROR
 * (a message that does not fit its protobuf type; `protocol`).
 */
export const GRPC_WEB_REASONS = Object.fromEntries(
  [...Object.keys(GRPC_STATUS_CODES), "UNREACHABLE", "DECODE_ERROR"].map((name) => [name, name]),
) as { readonly [K in GrpcStatusName | "UNREACHABLE" | "DECODE_ERROR"]: K };

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
    for (let shift = 1, byte = 128; byte > 127; shift *= 128) {
      byte = bytes[at++]!;
      value += (byte & 127) * shift;
    }
    return value;
  };
  while (at < bytes.length) {
    const tag = varint();
    if ((tag & 7) === 0) each(tag >>> 3, varint());
    else if ((tag & 7) === 2) {
      const end = varint() + at;
      each(tag >>> 3, bytes.subarray(at, end));
      at = end;
    } else throw new Error("malformed"); // no other wire type in google.rpc.Status
  }
  if (at > bytes.length) throw new Error("malformed");
}

/** Decodes google.rpc.Status { code = 1; message = 2; repeated Any details = 3 }. */
export function decodeStatusDetails(bytes: Uint8Array): GrpcStatusDetails {
  const status: GrpcStatusDetails = { code: 0, message: "", details: [] };
  fields(bytes, (field, value) => {
    if (typeof value === "number") status.code = value;
    else if (field === 2) status.message = utf8.decode(value);
    else if (field === 3) {
      const detail: { typeUrl: string; value: Uint8Array } = { typeUrl: "", value: value.subarray(0, 0) };
      fields(value, (inner, part) => {
        if (inner === 1) detail.typeUrl = utf8.decode(part as Uint8Array);
        if (inner === 2) detail.value = part as Uint8Array;
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
    error.details || name,
    { reason: unreachable ? GRPC_WEB_REASONS.UNREACHABLE : name, cause: error, details },
  );
}
