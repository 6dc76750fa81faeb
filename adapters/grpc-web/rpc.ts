/**
 * `rpc(client, Definition)`: typed unary calls over `client.call`, e.g.
 * `await rpc(client, CommentServiceDefinition).getComments({ type: "resource", targetId: 7 })`
 * resolves with a `ResponseGetComments`. Requests and responses travel as protobuf bytes (no
 * JSON in between); errors are the client's GmqErrors.
 */
import { bytesCodec, type CallOptions, type Client } from "gmq";
import type { GrpcServiceDefinition, MessageType } from "./services.js";

type Unary<M> = M extends {
  requestType: MessageType<infer Req>;
  responseType: MessageType<infer Res>;
  requestStream: false;
  responseStream: false;
}
  ? (request: Partial<Req>, options?: Omit<CallOptions, "codec">) => Promise<Res>
  : never;

/** The unary methods of a definition, keyed as in `definition.methods`. */
export type TypedClient<D extends GrpcServiceDefinition> = {
  [K in keyof D["methods"] as Unary<D["methods"][K]> extends never ? never : K]: Unary<D["methods"][K]>;
};

export function rpc<D extends GrpcServiceDefinition>(client: Client, definition: D): TypedClient<D> {
  const typed: Record<string, unknown> = {};
  for (const [key, method] of Object.entries(definition.methods)) {
    if (method.requestStream || method.responseStream) continue;
    const { requestType, responseType } = method;
    typed[key] = async (request: unknown, options?: CallOptions) => {
      const message = requestType.fromPartial ? requestType.fromPartial(request ?? {}) : request;
      const reply = await client.call<Uint8Array>(
        definition.fullName,
        method.name,
        requestType.encode(message).finish(),
        { ...options, codec: bytesCodec },
      );
      return responseType.decode(reply);
    };
  }
  return typed as TypedClient<D>;
}
