/**
 * Emulated backend modules: handler declarations, result helpers and the in-process stand-in
 * for mqant's RPC server (handler lookup, listener check, argument conversion, panic capture).
 */

import { Buffer } from "node:buffer";
import { type ApiRequest, ApiResponse } from "./http-api.js";
import type { GateSession } from "./session.js";

/** A JSON object payload, numbers as JS numbers (Go float64). */
export type MapArgs = Record<string, unknown>;

export interface MapHandler {
  /** Takes `map[string]interface{}`: a `{…}` JSON payload (or bytes that parse as an object/null). */
  readonly args: "map";
  readonly fn: (session: GateSession, args: MapArgs) => unknown;
}

export interface BytesHandler {
  /** Takes `[]byte`: any payload that is not a `{…}` JSON object. */
  readonly args: "bytes";
  readonly fn: (session: GateSession, args: Uint8Array) => unknown;
}

/**
 * Takes `*go_api.Request` (one argument, no session) and must return `*go_api.Response`: the kind
 * of handler mqant's HTTP gateway calls, registered under the full URL path (`/user/login`).
 */
export interface ApiHandler {
  readonly args: "api";
  readonly fn: (request: ApiRequest) => unknown;
}

export type MqantHandler = MapHandler | BytesHandler | ApiHandler;

export interface MqantModule {
  /** Module type, the first topic segment (`Chat`). */
  readonly type: string;
  /** Handler name (`HD_Say`) → handler. Names without `HD_` are unreachable from clients, as in mqant. */
  readonly handlers: Readonly<Record<string, MqantHandler>>;
  /**
   * mqant RPC listener `BeforeHandle`: runs after the handler lookup, before argument checks.
   * A non-empty string rejects the call with that Error and Result null.
   */
  readonly beforeHandle?: (handler: string, session: GateSession) => string | undefined;
}

/** Shorthand for a `map` handler with inferred types. */
export function mapHandler(fn: MapHandler["fn"]): MapHandler {
  return { args: "map", fn };
}

/** Shorthand for a `bytes` handler with inferred types. */
export function bytesHandler(fn: BytesHandler["fn"]): BytesHandler {
  return { args: "bytes", fn };
}

/** Shorthand for an HTTP-gateway handler; return `apiResponse(...)`. */
export function apiHandler(fn: ApiHandler["fn"]): ApiHandler {
  return { args: "api", fn };
}

/** A ProtocolMarshal result: these bytes become the whole reply payload, with no envelope. */
export class RawReply {
  constructor(readonly bytes: Uint8Array) {}
}

export function rawReply(bytes: Uint8Array | string): RawReply {
  return new RawReply(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes);
}

/** A reply with both fields set by the handler; Result may be non-null even when Error is set. */
export class Reply {
  constructor(
    readonly result: unknown,
    readonly error: string,
  ) {}
}

export function reply(result: unknown, error = ""): Reply {
  return new Reply(result, error);
}

/**
 * Thrown by a handler to answer with an application error (Go's `return nil, "text"`).
 * Throwing a plain string does the same. Any other thrown value is a panic (stack-style error).
 */
export class HandlerError extends Error {
  override readonly name = "HandlerError";
  constructor(
    message: string,
    readonly result: unknown = null,
  ) {
    super(message);
  }
}

/** What the RPC call produced, before the gate turns it into a payload. */
export type CallOutcome =
  | { readonly kind: "raw"; readonly bytes: Uint8Array }
  | { readonly kind: "result"; readonly error: string; readonly result: unknown };

/** The payload after the gate's classification: its RPC tag and, for `map`, the parsed object. */
export type CallArg =
  | { readonly tag: "map"; readonly map: MapArgs }
  | { readonly tag: "bytes"; readonly bytes: Uint8Array };

const STACK_LIMIT = 1024;
let goroutine = 1;

/** Go's panic reply: `<Type> rpc func(<h>) error <text>\n ----Stack----\n<stack, first 1 KiB>`. */
export function panicText(moduleType: string, handler: string, thrown: unknown): string {
  const text = thrown instanceof Error ? thrown.message : String(thrown);
  const jsStack = thrown instanceof Error && thrown.stack ? thrown.stack : "";
  const trace = `goroutine ${goroutine++} [running]:\n${jsStack}`;
  // runtime.Stack fills a 1024-byte buffer; a cut rune is later written as \ufffd by the encoder.
  const stack = Buffer.from(trace, "utf8").subarray(0, STACK_LIMIT).toString("utf8");
  return `${moduleType} rpc func(${handler}) error ${text}\n ----Stack----\n${stack}`;
}

const decoder = new TextDecoder();

/** mqant's argument binding: map → map, bytes → []byte, plus bytes that unmarshal into a map. */
function bindArg(handler: MqantHandler, arg: CallArg): MapArgs | Uint8Array {
  if (handler.args === "bytes") {
    if (arg.tag === "bytes") return arg.bytes;
    throw new Error("reflect: Call using map[string]interface {} as type []uint8");
  }
  if (arg.tag === "map") return arg.map;
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(arg.bytes));
  } catch {
    parsed = undefined;
  }
  // `null` unmarshals into a nil map, which reads like an empty one.
  if (parsed === null) return {};
  if (typeof parsed === "object" && !Array.isArray(parsed)) return parsed as MapArgs;
  throw new Error("reflect: Call using []uint8 as type map[string]interface {}");
}

/**
 * mqant's RPC server when the argument count does not fit the handler (the gate sends two, the
 * HTTP gateway one). The text after the prefix approximates Go's `%v` of the arguments and func.
 */
function paramsNotAdapted(given: string, handler: MqantHandler): string {
  const signature =
    handler.args === "api"
      ? "func(*go_api.Request) (*go_api.Response, error)"
      : `func(gate.Session, ${handler.args === "map" ? "map[string]interface {}" : "[]uint8"}) (interface {}, string)`;
  return `The number of params [${given}] is not adapted.<${signature} Value>`;
}

function lookupHandler(module: MqantModule, name: string): MqantHandler | undefined {
  return Object.hasOwn(module.handlers, name) ? module.handlers[name] : undefined;
}

function thrownOutcome(module: MqantModule, handlerName: string, thrown: unknown): CallOutcome {
  if (typeof thrown === "string") return { kind: "result", error: thrown, result: null };
  if (thrown instanceof HandlerError) return { kind: "result", error: thrown.message, result: thrown.result };
  return { kind: "result", error: panicText(module.type, handlerName, thrown), result: null };
}

/** Run one handler call the way a module's RPC server would. Never rejects. */
export async function invokeHandler(
  module: MqantModule,
  handlerName: string,
  session: GateSession,
  arg: CallArg,
): Promise<CallOutcome> {
  const handler = lookupHandler(module, handlerName);
  if (!handler) return { kind: "result", error: `Remote function(${handlerName}) not found`, result: null };
  if (handler.args === "api") {
    return { kind: "result", error: paramsNotAdapted(`SESSION ${arg.tag}`, handler), result: null };
  }
  try {
    const refused = module.beforeHandle?.(handlerName, session);
    if (refused) return { kind: "result", error: refused, result: null };
    const bound = bindArg(handler, arg);
    const value =
      handler.args === "map"
        ? await handler.fn(session, bound as MapArgs)
        : await handler.fn(session, bound as Uint8Array);
    if (value instanceof RawReply) return { kind: "raw", bytes: value.bytes };
    if (value instanceof Reply) return { kind: "result", error: value.error, result: value.result };
    return { kind: "result", error: "", result: value };
  } catch (thrown) {
    return thrownOutcome(module, handlerName, thrown);
  }
}

/** What the HTTP gateway gets back: a response, or the RPC error string. */
export type ApiOutcome = { readonly response: ApiResponse } | { readonly error: string };

/** Go's `%T` / `%v` for a non-proto result, as in mqrpc.Proto's "unexpected type" error. */
function unexpectedType(value: unknown): string {
  if (typeof value === "string") return `mqrpc: unexpected type for ${value}, got type string`;
  if (typeof value === "number") return `mqrpc: unexpected type for ${value}, got type float64`;
  if (typeof value === "boolean") return `mqrpc: unexpected type for ${value}, got type bool`;
  if (value instanceof Uint8Array) return `mqrpc: unexpected type for [${value.join(" ")}], got type []uint8`;
  return "mqrpc: unexpected type for map[], got type map[string]interface {}";
}

/**
 * The HTTP gateway's RPC call (`mqrpc.Proto(rsp, Call(handler, request))`): the handler must
 * return an ApiResponse; an error string, a panic, nil or any other value becomes the error.
 * Never rejects.
 */
export async function invokeApiHandler(
  module: MqantModule,
  handlerName: string,
  request: ApiRequest,
): Promise<ApiOutcome> {
  const handler = lookupHandler(module, handlerName);
  if (!handler) return { error: `Remote function(${handlerName}) not found` };
  if (handler.args !== "api") return { error: paramsNotAdapted("*go_api.Request", handler) };
  let value: unknown;
  try {
    value = await handler.fn(request);
  } catch (thrown) {
    const outcome = thrownOutcome(module, handlerName, thrown);
    return { error: outcome.kind === "result" ? outcome.error : "" };
  }
  if (value instanceof Reply) {
    if (value.error !== "") return { error: value.error };
    value = value.result;
  }
  if (value instanceof ApiResponse) return { response: value };
  if (value === null || value === undefined) return { error: "mqrpc: nil returned" };
  return { error: unexpectedType(value) };
}
