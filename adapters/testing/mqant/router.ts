/**
 * The gate's default router (spec §3): topic grammar, payload classification, the RPC call with
 * the server-side timeout, and the reply (JSON envelope or raw ProtocolMarshal bytes).
 */

import type { Connection } from "./connection.js";
import { envelope, GoJsonError, goJson } from "./go-json.js";
import { type CallArg, type CallOutcome, invokeHandler, type MqantModule } from "./module.js";
import type { MqantProfile } from "./profile.js";
import { GateSession, type SessionHost } from "./session.js";

export const TOPIC_ERROR =
  "Topic must be [moduleType@moduleID]/[handler]|[moduleType@moduleID]/[handler]/[msgid]";
export const JSON_ERROR = "The JSON format is incorrect";
export const DEADLINE_EXCEEDED = "deadline exceeded";

/** A module instance registered under a random node id `Type@<16 hex>`. */
export interface ModuleNode {
  readonly nodeId: string;
  readonly module: MqantModule;
}

/** app.GetRouteServer: `Type@<id>` names one node; `Type` or `Type@` picks a node of that type at random. */
export function lookupNode(nodes: readonly ModuleNode[], target: string): ModuleNode | undefined {
  const at = target.indexOf("@");
  if (at >= 0 && at < target.length - 1) return nodes.find((n) => n.nodeId === target);
  const type = at >= 0 ? target.slice(0, at) : target;
  const candidates = nodes.filter((n) => n.module.type === type);
  return candidates[Math.floor(Math.random() * candidates.length)];
}

export type TopicRoute =
  | { readonly kind: "bad-topic" }
  | {
      readonly kind: "call";
      readonly target: string;
      readonly handler: string;
      /** "" for a notify (two parts, empty msgid, or four and more parts). */
      readonly msgid: string;
    };

/** Split a topic the way the default router does. */
export function parseTopic(topic: string): TopicRoute {
  const parts = topic.split("/");
  if (parts.length < 2) return { kind: "bad-topic" };
  return {
    kind: "call",
    target: parts[0]!,
    handler: parts[1]!,
    msgid: parts.length === 3 ? parts[2]! : "",
  };
}

const decoder = new TextDecoder();

/** `{…}` payloads must be JSON (tag `map`); anything else is forwarded as bytes. */
export function classifyPayload(payload: Uint8Array): CallArg | "bad-json" {
  if (payload.length > 0 && payload[0] === 0x7b && payload[payload.length - 1] === 0x7d) {
    try {
      return { tag: "map", map: JSON.parse(decoder.decode(payload)) as Record<string, unknown> };
    } catch {
      return "bad-json";
    }
  }
  return { tag: "bytes", bytes: payload };
}

export interface RouterOptions {
  readonly profile: MqantProfile;
  /** Server-side RPC timeout, already scaled. */
  readonly rpcTimeoutMs: number;
  /** Upper bound of a random delay added before each reply. */
  readonly replyJitterMs: number;
  readonly nodes: readonly ModuleNode[];
  readonly sessions: SessionHost;
}

export class Router {
  constructor(private readonly opts: RouterOptions) {}

  /** Find a node by type (`Chat`, `Chat@`) or full node id (`Chat@3f2a9c0d11e4b7a2`). */
  lookup(target: string): ModuleNode | undefined {
    return lookupNode(this.opts.nodes, target);
  }

  /**
   * Route one PUBLISH. Returns a promise while the request still holds its worker slot (until its
   * reply is written), or undefined when the slot can be freed at once (notify forwarded, or a
   * reply already written).
   */
  dispatch(conn: Connection, topic: string, payload: Uint8Array): Promise<void> | undefined {
    const route = parseTopic(topic);
    // Replied even though there is no msgid.
    if (route.kind === "bad-topic") return this.#reply(conn, topic, envelope(conn.trace, TOPIC_ERROR));
    const isRequest = route.msgid !== "";
    const fail = (error: string) =>
      isRequest ? this.#reply(conn, topic, envelope(conn.trace, error)) : undefined;

    if (!route.handler.startsWith("HD_")) return fail(`Method(${route.handler}) must begin with 'HD_'`);
    const node = this.lookup(route.target);
    if (!node) return fail(`Service(type:${route.target}) not found`);
    // v1.2.0 indexes payload[0] unguarded: the worker panics and nobody answers.
    if (payload.length === 0 && this.opts.profile === "v1.2.0") return undefined;
    const arg = classifyPayload(payload);
    if (arg === "bad-json") return fail(JSON_ERROR);

    const state = conn.session;
    if (!state) return undefined;
    const session = new GateSession(this.opts.sessions, state, topic);
    const call = invokeHandler(node.module, route.handler, session, arg);
    // A notify holds its slot only until it is forwarded, which is now.
    if (!isRequest) return undefined;
    return withTimeout(call, this.opts.rpcTimeoutMs).then((outcome) =>
      this.#reply(conn, topic, encodeOutcome(conn.trace, outcome)),
    );
  }

  #reply(conn: Connection, topic: string, payload: Uint8Array): Promise<void> | undefined {
    const jitter = this.opts.replyJitterMs;
    if (jitter <= 0) {
      conn.writePublish(topic, payload);
      return undefined;
    }
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        conn.writePublish(topic, payload);
        resolve();
      }, Math.random() * jitter),
    );
  }
}

/** The gate stops waiting after the RPC timeout; a late result is dropped. */
function withTimeout(call: Promise<CallOutcome>, ms: number): Promise<CallOutcome> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ kind: "result", error: DEADLINE_EXCEEDED, result: null }), ms);
    call.then((outcome) => {
      clearTimeout(timer);
      resolve(outcome);
    });
  });
}

/** Raw bytes go out as they are (any error is dropped); everything else gets the envelope. */
export function encodeOutcome(trace: string, outcome: CallOutcome): Uint8Array {
  if (outcome.kind === "raw") return outcome.bytes;
  try {
    return envelope(trace, outcome.error, goJson(outcome.result));
  } catch (err) {
    if (err instanceof GoJsonError) return envelope(trace, err.message);
    throw err;
  }
}
