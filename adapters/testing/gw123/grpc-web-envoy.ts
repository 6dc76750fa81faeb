/**
 * A thin Envoy stand-in in front of connect-node's gRPC-web handlers (spec §2, "Envoy gRPC-web
 * proxy"). connect does the protocol; this layer only adds what Envoy + grpc-go add on the wire:
 *
 * - the CORS filter (any origin, the fixed allow/expose lists, preflight answered locally);
 * - text mode (`application/grpc-web-text`), which connect refuses with 415: the base64 request
 *   body is decoded before connect sees it and each response frame is base64-encoded on its own;
 * - trailers-only errors: connect always writes a trailer frame, but grpc-go answers an error
 *   before any message with HEADERS alone, which Envoy passes on as response headers with an
 *   empty body;
 * - the trailer frame as Envoy writes it (`grpc-status:0\r\ngrpc-message:\r\n`);
 * - grpc-go's UNIMPLEMENTED for unknown services and methods;
 * - grpc-go's `SendHeader`: a server stream may send its response headers before any message
 *   (`onCall`'s `sendHeader`), where connect waits for the first one.
 */

import { Buffer } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ContextValues } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { ENVOY_CORS } from "./envoy-cors.js";
import {
  decodeBase64Stream,
  encodeBase64Frames,
  encodeFrame,
  type Frame,
  grpcGoTrailers,
  grpcPercentEncode,
  InvalidBase64Error,
  parseTrailer,
  serializeTrailer,
  splitFrames,
  TRAILER_FLAG,
} from "./grpc-web-codec.js";

export const TEXT_CONTENT_TYPE = "application/grpc-web-text+proto";
const BINARY_CONTENT_TYPE = "application/grpc-web+proto";

export type GrpcWebMode = "binary" | "text";

/** What the front saw of one gRPC-web call, before the service ran. */
export interface GrpcWebCall {
  /** `/package.Service/method` */
  readonly path: string;
  readonly mode: GrpcWebMode;
  /** Request headers as received, lower-case names. */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface EnvoyFrontOptions {
  readonly handlers: readonly UniversalHandler[];
  /** `Access-Control-Allow-Headers` of the preflight. */
  readonly allowHeaders: string;
  /**
   * Called for every gRPC-web request; may return context values for the service implementation.
   * `sendHeader` sends the response headers at once, before any message.
   */
  readonly onCall?: (
    call: GrpcWebCall,
    req: IncomingMessage,
    sendHeader: () => void,
  ) => ContextValues | undefined;
}

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

export function grpcWebMode(contentType: string | undefined): GrpcWebMode | undefined {
  if (!contentType) return undefined;
  if (/^application\/grpc-web-text(\+proto)?$/i.test(contentType)) return "text";
  if (/^application\/grpc-web(\+[\w.-]+)?$/i.test(contentType)) return "binary";
  return undefined;
}

export function createEnvoyFront(options: EnvoyFrontOptions): NodeHandler {
  const byPath = new Map(options.handlers.map((h) => [h.requestPath, h]));
  const services = new Set(options.handlers.map((h) => h.service.typeName));

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const origin = req.headers.origin;
    if (req.method === "OPTIONS" && origin && req.headers["access-control-request-method"]) {
      res.writeHead(200, {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": ENVOY_CORS.allowMethods,
        "access-control-allow-headers": options.allowHeaders,
        "access-control-max-age": ENVOY_CORS.maxAge,
      });
      res.end();
      return;
    }
    if (origin) {
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("access-control-expose-headers", ENVOY_CORS.exposeHeaders);
    }

    const path = req.url ?? "/";
    const mode = grpcWebMode(req.headers["content-type"]);
    const handler = byPath.get(path);
    if (!mode) {
      // Not gRPC-web: Envoy forwards it untouched and the upstream decides (connect: 404/405/415).
      if (handler)
        await respond(res, await handler(universalRequestFromNodeRequest(req, res, undefined, undefined)));
      else res.writeHead(404).end();
      return;
    }

    const metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) metadata[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    let sendHeader!: () => void;
    const headerRequested = new Promise<true>((resolve) => {
      sendHeader = () => resolve(true);
    });
    const contextValues = options.onCall?.({ path, mode, metadata }, req, sendHeader);

    if (!handler) {
      const [status, message] = unknownMethod(path, services);
      return trailersOnly(res, mode, status, message);
    }
    let request = universalRequestFromNodeRequest(req, res, undefined, contextValues);
    if (mode === "text") {
      let body: Uint8Array;
      try {
        body = await readAll(decodeBase64Stream(request.body as AsyncIterable<Uint8Array>));
      } catch (err) {
        // What current Envoy makes of its local 400 for this: INTERNAL, trailers-only.
        if (err instanceof InvalidBase64Error) return trailersOnly(res, mode, 13, err.message);
        throw err;
      }
      request = asBinaryRequest(request, body);
    }
    // connect answers once the first message (or the status) is ready; a stream that sends its
    // headers first (sendHeader) is answered at once.
    const pending = handler(request);
    const early = await Promise.race([pending.then(noHeaderYet, noHeaderYet), headerRequested]);
    if (early) return respondEarly(res, mode, pending);
    const response = await pending;
    if (response.status !== 200 || !response.body) return respond(res, response);

    const header = new Headers(response.header);
    if (mode === "text") header.set("content-type", TEXT_CONTENT_TYPE);
    const frames = splitFrames(response.body)[Symbol.asyncIterator]();
    const first = await frames.next();
    if (!first.done && first.value.flag & TRAILER_FLAG) {
      // Trailers-only: the status travels in the headers and the body is empty.
      for (const [name, value] of grpcGoTrailers(parseTrailer(first.value.data))) header.set(name, value);
      header.set("content-length", "0");
      return respond(res, { status: 200, header });
    }
    const body = envoyFrames(frames, first);
    await respond(res, { status: 200, header, body: mode === "text" ? encodeBase64Frames(body) : body });
  };

  return (req, res) => {
    handle(req, res).catch(() => {
      // A killed or cancelled stream, or a client that went away: nothing left to answer.
      res.destroy();
    });
  };
}

/** grpc-go's answer for a path it has no handler for (grpc-go v1.23 server.handleStream). */
function unknownMethod(path: string, services: ReadonlySet<string>): [number, string] {
  const name = path.startsWith("/") ? path.slice(1) : path;
  const slash = name.lastIndexOf("/");
  // grpc-go answers a path without a method part with RESOURCE_EXHAUSTED.
  if (slash < 0) return [8, `malformed method name: ${JSON.stringify(path)}`];
  const service = name.slice(0, slash);
  if (!services.has(service)) return [12, `unknown service ${service}`];
  return [12, `unknown method ${name.slice(slash + 1)} for service ${service}`];
}

async function trailersOnly(res: ServerResponse, mode: GrpcWebMode, status: number, message: string) {
  await respond(res, {
    status: 200,
    header: new Headers({
      "content-type": mode === "text" ? TEXT_CONTENT_TYPE : BINARY_CONTENT_TYPE,
      "grpc-status": String(status),
      "grpc-message": grpcPercentEncode(message),
      "content-length": "0",
    }),
  });
}

const noHeaderYet = () => false as const;

/** The headers now (flushed), then the frames as they come: grpc-go after `SendHeader`. */
async function respondEarly(
  res: ServerResponse,
  mode: GrpcWebMode,
  pending: Promise<Awaited<ReturnType<UniversalHandler>>>,
): Promise<void> {
  res.writeHead(200, { "content-type": mode === "text" ? TEXT_CONTENT_TYPE : BINARY_CONTENT_TYPE });
  res.flushHeaders();
  const response = await pending;
  if (response.body) {
    const frames = envoyFrames(splitFrames(response.body)[Symbol.asyncIterator]());
    for await (const chunk of mode === "text" ? encodeBase64Frames(frames) : frames) {
      await new Promise<void>((resolve, reject) =>
        res.write(chunk, (error) => (error ? reject(error) : resolve())),
      );
    }
  }
  res.end();
}

/** The upstream frames as Envoy passes them on, the trailer frame rewritten as Envoy writes it. */
async function* envoyFrames(
  rest: AsyncIterator<Frame>,
  first?: IteratorResult<Frame>,
): AsyncGenerator<Uint8Array> {
  let next = first ?? (await rest.next());
  while (!next.done) {
    const frame = next.value;
    yield frame.flag & TRAILER_FLAG
      ? encodeFrame(TRAILER_FLAG, serializeTrailer(grpcGoTrailers(parseTrailer(frame.data))))
      : encodeFrame(frame.flag, frame.data);
    next = await rest.next();
  }
}

function asBinaryRequest(request: UniversalServerRequest, body: Uint8Array): UniversalServerRequest {
  const header = new Headers(request.header);
  header.set("content-type", BINARY_CONTENT_TYPE);
  return {
    ...request,
    header,
    body: (async function* () {
      yield body;
    })(),
  };
}

async function readAll(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

function respond(res: ServerResponse, response: Parameters<typeof universalResponseToNodeResponse>[0]) {
  return universalResponseToNodeResponse(response, res);
}
