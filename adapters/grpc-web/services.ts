/**
 * The services an app registers (ts-proto generic definitions, `outputServices=generic-
 * definitions`), as the adapter uses them: one nice-grpc-web client per service that moves
 * protobuf bytes, and the conversion between the proto3 JSON mapping and those bytes.
 */
import { GmqError } from "gmq";
import { type Channel, createClient, type ServiceDefinition } from "nice-grpc-web";

/** What gmq uses of a ts-proto message type. */
export interface MessageType<T = any> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
  fromPartial?(value: any): T;
  fromJSON?(json: any): T;
  toJSON?(message: T): unknown;
  /** ts-proto's well-known types (Value, Struct, ListValue): to and from their JSON form. */
  wrap?(json: any): T;
  unwrap?(message: T): unknown;
}

export interface GrpcMethodDefinition {
  readonly name: string;
  readonly requestType: MessageType;
  readonly responseType: MessageType;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly options?: object;
}

/** A ts-proto service definition, e.g. `CommentServiceDefinition`. */
export interface GrpcServiceDefinition {
  readonly fullName: string;
  readonly methods: Readonly<Record<string, GrpcMethodDefinition>>;
}

/** One registered method, ready to call with protobuf bytes. */
export interface ServiceMethod {
  readonly definition: GrpcMethodDefinition;
  /** Unary: resolves with the response bytes. Server streaming: an iterable of them. */
  readonly invoke: (request: Uint8Array, options: object) => any;
}

const identity = (bytes: Uint8Array) => bytes;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export class Services {
  /** `package.Service` → method name → method. */
  private readonly services = new Map<string, Map<string, ServiceMethod>>();
  private readonly methodNames = new Set<string>();

  constructor(definitions: readonly GrpcServiceDefinition[], channel: Channel) {
    for (const [i, definition] of definitions.entries()) {
      if (typeof definition?.fullName !== "string" || typeof definition.methods !== "object") {
        throw GmqError.invalid(`services[${i}]`, "must be a ts-proto service definition (fullName, methods)");
      }
      // Bytes in, bytes out: the adapter converts, so one client serves every codec.
      const raw: ServiceDefinition = {};
      for (const method of Object.values(definition.methods)) {
        raw[method.name] = {
          path: `/${definition.fullName}/${method.name}`,
          requestStream: method.requestStream,
          responseStream: method.responseStream,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: identity,
          responseDeserialize: identity,
          options: {},
        };
      }
      const client = createClient(raw, channel) as Record<string, ServiceMethod["invoke"]>;
      const methods = new Map<string, ServiceMethod>();
      for (const method of Object.values(definition.methods)) {
        methods.set(method.name, { definition: method, invoke: client[method.name]! });
        this.methodNames.add(method.name);
      }
      this.services.set(definition.fullName, methods);
    }
  }

  hasService(name: string): boolean {
    return this.services.has(name);
  }

  hasMethod(name: string): boolean {
    return this.methodNames.has(name);
  }

  get(service: string, method: string): ServiceMethod | undefined {
    return this.services.get(service)?.get(method);
  }

  /** `package.Service/method` → the method, when registered and of the given kind. */
  byPath(path: string, streaming: boolean): ServiceMethod | undefined {
    const slash = path.lastIndexOf("/");
    const found = this.get(path.slice(0, slash), path.slice(slash + 1));
    const d = found?.definition;
    return d && !d.requestStream && d.responseStream === streaming ? found : undefined;
  }
}

/** A request from JSON bytes (the proto3 JSON mapping) or, for any other codec, as it is. */
export function requestBytes(type: MessageType, payload: Uint8Array | undefined, codec: string): Uint8Array {
  if (codec !== "json") return payload ?? new Uint8Array(0);
  if (!type.fromJSON && !type.wrap) {
    throw new GmqError(
      "unsupported",
      "codec: this definition has no JSON methods (ts-proto outputJsonMethods): call with bytesCodec",
      { field: "codec" },
    );
  }
  let message: unknown;
  try {
    const json = payload?.length ? JSON.parse(fromUtf8.decode(payload)) : null;
    message = type.wrap ? type.wrap(json) : type.fromJSON!(json ?? {});
  } catch (error) {
    throw new GmqError("invalid_argument", `args: not a valid message: ${(error as Error).message}`, {
      field: "args",
      cause: error,
    });
  }
  return type.encode(message).finish();
}

/** A response as JSON bytes (proto3 JSON mapping), or as it is for any other codec. */
export function responseBytes(type: MessageType, bytes: Uint8Array, codec: string): Uint8Array {
  if (codec !== "json") return bytes;
  try {
    const message = type.decode(bytes);
    return utf8.encode(JSON.stringify(type.unwrap ? type.unwrap(message) : type.toJSON!(message)) ?? "null");
  } catch (error) {
    throw new GmqError("protocol", `a response that is not a valid message: ${(error as Error).message}`, {
      reason: "DECODE_ERROR",
      cause: error,
    });
  }
}
