/**
 * startMqantHttpGateway(): mqant master's HTTP gateway (`httpgateway`, appendix of the spec) on a
 * free loopback port. The first path segment picks a module (at random among its nodes), the
 * handler is the full path, the request travels as go.api.Request, and the response and error
 * shapes are the gateway's own.
 */

import { Buffer } from "node:buffer";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenHttp } from "../http-listener.js";
import { canonicalHeader, QueryError, requestToProto } from "./api-request.js";
import { normaliseModules } from "./gate.js";
import { type ApiResponse, encodeApiError, goStatusText, parseApiError } from "./http-api.js";
import { httpDemoModule } from "./http-demo-module.js";
import { type ApiOutcome, invokeApiHandler, type MqantHandler, type MqantModule } from "./module.js";
import { DEADLINE_EXCEEDED, lookupNode, type ModuleNode } from "./router.js";
import { randomHex16 } from "./session.js";

export interface MqantHttpGatewayOptions {
  /**
   * Modules, as for startMqantGate (`{ type, handlers }` list or `{ Type: { handler } }`). HTTP
   * handlers are `apiHandler(...)` entries keyed by their full path (`"/user/login"`). The same
   * module objects can be given to a gate too.
   */
  readonly modules?:
    | readonly MqantModule[]
    | Readonly<Record<string, Readonly<Record<string, MqantHandler>>>>;
  /** Also run httpDemoModule() (type `user`). Default: true when `modules` is not given. */
  readonly demo?: boolean;
  /** The RPC timeout (RPCExpired) in ms; then 500 `deadline exceeded`. Default 10000 (master). */
  readonly timeoutMs?: number;
  readonly host?: string;
  readonly port?: number;
}

export interface MqantHttpGateway extends AsyncDisposable {
  /** `http://<host>:<port>`; requests go to `/<moduleType>/<path>`. */
  readonly url: string;
  readonly port: number;
  /** Module type → its (first) node id `Type@<16 hex>`; usable as the first path segment. */
  readonly nodeIds: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

const GATEWAY_ID = "httpgateway";

function internalError(detail: string): string {
  return encodeApiError({ id: GATEWAY_ID, code: 500, detail, status: goStatusText(500) });
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** DefaultRoute: `/<server>/...` → a node of that module, or Go's error text. */
function route(nodes: readonly ModuleNode[], path: string): ModuleNode | string {
  if (path === "") return "path is nil";
  const server = path.split("/")[1] ?? "";
  if (server === "") return "server is nil";
  const node = lookupNode(nodes, server);
  if (node) return node;
  // GetServerByID for `Type@id`, the registry selector for a type with no nodes.
  return /@./.test(server) ? `nofound ${server}` : "none available";
}

function withTimeout(call: Promise<ApiOutcome>, ms: number): Promise<ApiOutcome> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ error: DEADLINE_EXCEEDED }), ms);
    call.then((outcome) => {
      clearTimeout(timer);
      resolve(outcome);
    });
  });
}

function writeJsonError(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(body);
}

/** Copy the response the way api.go does; an invalid status panics in Go and drops the connection. */
function writeResponse(req: IncomingMessage, res: ServerResponse, response: ApiResponse): void {
  try {
    for (const pair of Object.values(response.header)) {
      for (const value of pair.values) {
        res.appendHeader(canonicalHeader(pair.key), value.replace(/[\r\n]/g, " "));
      }
    }
    if (!res.hasHeader("content-type")) res.setHeader("Content-Type", "application/json");
    res.writeHead(response.statusCode === 0 ? 200 : response.statusCode);
  } catch {
    req.socket.destroy();
    return;
  }
  res.end(response.body);
}

export async function startMqantHttpGateway(
  options: MqantHttpGatewayOptions = {},
): Promise<MqantHttpGateway> {
  const custom = normaliseModules(options.modules);
  const withDemo = options.demo ?? options.modules === undefined;
  const customTypes = new Set(custom.map((m) => m.type));
  const modules = [
    ...(withDemo ? [httpDemoModule()].filter((m) => !customTypes.has(m.type)) : []),
    ...custom,
  ];
  const nodes: ModuleNode[] = modules.map((module) => ({
    module,
    nodeId: `${module.type}@${randomHex16()}`,
  }));
  const nodeIds: Record<string, string> = {};
  for (const n of nodes) nodeIds[n.module.type] ??= n.nodeId;
  const timeoutMs = options.timeoutMs ?? 10_000;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    let request: ReturnType<typeof requestToProto>;
    try {
      request = requestToProto(req, body);
    } catch (err) {
      if (err instanceof QueryError) return writeJsonError(res, 500, internalError(err.message));
      throw err;
    }
    const node = route(nodes, request.path);
    if (typeof node === "string") return writeJsonError(res, 500, internalError(node));

    const outcome = await withTimeout(invokeApiHandler(node.module, request.path, request), timeoutMs);
    if ("response" in outcome) return writeResponse(req, res, outcome.response);
    // errors.Parse: the status is the error's code (0 → 500); the body is the parsed error re-encoded.
    const error = parseApiError(outcome.error);
    try {
      writeJsonError(res, error.code === 0 ? 500 : error.code, encodeApiError(error));
    } catch {
      req.socket.destroy();
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  const { url, port, close } = await listenHttp(server, { host: options.host, port: options.port });
  return {
    url,
    port,
    nodeIds,
    close,
    [Symbol.asyncDispose]: close,
  };
}
