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
  /** `package.Service/method` → the method. */
  private readonly methods = new Map<string, ServiceMethod>();
  readonly services = new Set<string>();
  readonly methodNames = new Set<string>();

  constructor(definitions: readonly GrpcServiceDefinition[], channel: Channel) {
    definitions.forEach(({ fullName, methods } = {} as GrpcServiceDefinition, i) => {
      if (typeof fullName !== "string" || typeof methods !== "object") {
        throw GmqError.invalid(`services[${i}]`, "must be a ts-proto service definition");
      }
      // Bytes in, bytes out: the adapter converts, so one client serves every codec.
      const raw: Record<string, object> = {};
      for (const { name, requestStream, responseStream } of Object.values(methods)) {
        const path = `/${fullName}/${name}`;
        raw[name] = {
          path,
          requestStream,
          responseStream,
          requestSerialize: identity,
          responseDeserialize: identity,
        };
      }
      const client = createClient(raw as ServiceDefinition, channel) as Record<
        string,
        ServiceMethod["invoke"]
      >;
      for (const definition of Object.values(methods)) {
        this.methods.set(`${fullName}/${definition.name}`, { definition, invoke: client[definition.name]! });
        this.methodNames.add(definition.name);
      }
      this.services.add(fullName);
    });
  }

  get(service: string, method: string): ServiceMethod | undefined {
    return this.methods.get(`${service}/${method}`);
  }

  /** `package.Service/method` → the method, when registered and of the given kind. */
  byPath(path: string, streaming: boolean): ServiceMethod | undefined {
    const found = this.methods.get(path);
    const d = found?.definition;
    return d && !d.requestStream && d.responseStream === streaming ? found : undefined;
  }
}

/** A request from JSON bytes (the proto3 JSON mapping) or, for any other codec, as it is. */
export function requestBytes(type: MessageType, payload: Uint8Array | undefined, codec: string): Uint8Array {
  if (codec !== "json") return payload ?? new Uint8Array(0);
  if (!type.fromJSON && !type.wrap) {
    throw GmqError.unsupported("codec", "grpc-web", "needs fromJSON/toJSON for JSON: use bytesCodec");
  }
  let message: unknown;
  try {
    const json = payload?.length ? JSON.parse(fromUtf8.decode(payload)) : null;
    message = type.wrap ? type.wrap(json) : type.fromJSON!(json ?? {});
  } catch (error) {
    throw GmqError.invalid("args", String(error));
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
    throw new GmqError("protocol", `bad response: ${error}`, { reason: "DECODE_ERROR", cause: error });
  }
}
