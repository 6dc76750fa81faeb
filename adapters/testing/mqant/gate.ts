/**
 * An in-process mqant gate: TCP and WebSocket listeners on free loopback ports, the gate's MQTT
 * subset and router, emulated backend modules, and the session registry modules push through.
 */

import { Connection, type ConnectionHost, type Transport } from "./connection.js";
import { demoModules } from "./demo-modules.js";
import type { MqantHandler, MqantModule } from "./module.js";
import { DEFAULT_MAX_PACK_SIZE, type MqantProfile, rpcTimeoutMs } from "./profile.js";
import { type ModuleNode, Router } from "./router.js";
import { GateSession, randomHex16, type SessionHost, type SessionState } from "./session.js";
import { type Listener, startTcpListener } from "./tcp.js";
import { startWsListener } from "./websocket.js";

export interface MqantGateOptions {
  /**
   * Backend modules, as a list of `{ type, handlers, beforeHandle? }` or as
   * `{ Type: { HD_x: handler } }`. A module type given here replaces the demo module of that type;
   * two modules of one type become two nodes, and a by-type call picks one at random.
   */
  readonly modules?:
    | readonly MqantModule[]
    | Readonly<Record<string, Readonly<Record<string, MqantHandler>>>>;
  /** Also run the demo Login, Chat and HelloWorld modules. Default: true when `modules` is not given. */
  readonly demo?: boolean;
  /** Gate version to imitate. Default `v1.2.0` (the demo server's). */
  readonly profile?: MqantProfile;
  /** Multiplies every deadline and timeout (CONNECT 10 s, idle D, RPC timeout, JoinChat latency). Default 1. */
  readonly timeScale?: number;
  /** Server RPC timeout in real milliseconds (not scaled). Default: profile's 1 s / 10 s × timeScale. */
  readonly rpcTimeoutMs?: number;
  /** Listen address. Default 127.0.0.1; ports are always chosen by the OS. */
  readonly host?: string;
  /** Add a random 0..n ms delay before each reply, so replies overtake each other. Default 0. */
  readonly replyJitterMs?: number;
  /** Split and coalesce outbound WebSocket frames at random. Default false (the gate's 2 KiB buffer cuts). */
  readonly fragmentFrames?: boolean;
  /** Largest inbound remaining length; bigger packets close the socket. Default 65535. */
  readonly maxPackSize?: number;
}

export interface MqantGate extends AsyncDisposable {
  readonly profile: MqantProfile;
  readonly tcpPort: number;
  readonly wsPort: number;
  /** `mqtt://<host>:<tcpPort>` */
  readonly tcpUrl: string;
  /** `ws://<host>:<wsPort>/mqtt` (any path works). */
  readonly wsUrl: string;
  /** The gate's own node id, `Gate@<16 hex>` (the sessions' serverId). */
  readonly gateId: string;
  /** Module type → its (first) node id `Type@<16 hex>`, random per start. Usable as a topic's first part. */
  readonly nodeIds: Readonly<Record<string, string>>;
  /** Snapshots of the live sessions (one per connection past CONNECT), usable like a handler's session. */
  sessions(): GateSession[];
  /** Push to every connection, guests included. Returns the count. */
  broadcast(topic: string, body: Uint8Array | string): number;
  /** Drop every client socket at once with no goodbye (fault injection). The listeners stay up. */
  dropAll(): void;
  close(): Promise<void>;
}

export function normaliseModules(modules: MqantGateOptions["modules"]): MqantModule[] {
  if (!modules) return [];
  if (Array.isArray(modules)) return [...(modules as readonly MqantModule[])];
  return Object.entries(modules as Record<string, Record<string, MqantHandler>>).map(([type, handlers]) => ({
    type,
    handlers,
  }));
}

export async function startMqantGate(options: MqantGateOptions = {}): Promise<MqantGate> {
  const profile = options.profile ?? "v1.2.0";
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0)) throw new RangeError("timeScale must be > 0");
  const host = options.host ?? "127.0.0.1";

  const custom = normaliseModules(options.modules);
  const withDemo = options.demo ?? options.modules === undefined;
  const customTypes = new Set(custom.map((m) => m.type));
  const modules = [
    ...(withDemo ? demoModules(timeScale).filter((m) => !customTypes.has(m.type)) : []),
    ...custom,
  ];
  const nodes: ModuleNode[] = modules.map((module) => ({
    module,
    nodeId: `${module.type}@${randomHex16()}`,
  }));
  const nodeIds: Record<string, string> = {};
  for (const n of nodes) nodeIds[n.module.type] ??= n.nodeId;
  const gateId = `Gate@${randomHex16()}`;

  const all = new Set<Connection>();
  const live = new Map<string, Connection>();

  const sessionHost: SessionHost = {
    send: (id, topic, body) => live.get(id)?.writePublish(topic, body) ?? false,
    sendBatch: (ids, topic, body) => ids.filter((id) => live.get(id)?.writePublish(topic, body)).length,
    broadcast: (topic, body) => [...live.values()].filter((c) => c.writePublish(topic, body)).length,
    state: (id) => live.get(id)?.session,
    isConnect: (userId) => [...live.values()].some((c) => c.session?.userId === userId),
    close: (id) => {
      const conn = live.get(id);
      conn?.close();
      return conn !== undefined;
    },
  };

  const router = new Router({
    profile,
    rpcTimeoutMs: options.rpcTimeoutMs ?? rpcTimeoutMs(profile) * timeScale,
    replyJitterMs: options.replyJitterMs ?? 0,
    nodes,
    sessions: sessionHost,
  });

  const connectionHost: ConnectionHost = {
    profile,
    timeScale,
    maxPackSize: options.maxPackSize ?? DEFAULT_MAX_PACK_SIZE,
    serverId: gateId,
    opened: (conn) => {
      if (conn.session) live.set(conn.session.sessionId, conn);
    },
    closed: (conn) => {
      all.delete(conn);
      if (conn.session) live.delete(conn.session.sessionId);
    },
    dispatch: (conn, topic, payload) => router.dispatch(conn, topic, payload),
  };

  const accept = (transport: Transport) => {
    const conn = new Connection(connectionHost, transport);
    all.add(conn);
    return conn;
  };

  const tcp: Listener = await startTcpListener(host, accept);
  let ws: Listener;
  try {
    ws = await startWsListener({ host, profile, fragmentFrames: options.fragmentFrames ?? false }, accept);
  } catch (err) {
    await tcp.close();
    throw err;
  }

  let closing: Promise<void> | undefined;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  const close = () => {
    closing ??= (async () => {
      for (const conn of [...all]) conn.close();
      all.clear();
      live.clear();
      await Promise.all([tcp.close(), ws.close()]);
    })();
    return closing;
  };

  return {
    profile,
    tcpPort: tcp.port,
    wsPort: ws.port,
    tcpUrl: `mqtt://${urlHost}:${tcp.port}`,
    wsUrl: `ws://${urlHost}:${ws.port}/mqtt`,
    gateId,
    nodeIds,
    sessions: () =>
      [...live.values()]
        .map((c) => c.session)
        .filter((s): s is SessionState => s !== undefined)
        .map((s) => new GateSession(sessionHost, s)),
    broadcast: (topic, body) =>
      sessionHost.broadcast(topic, typeof body === "string" ? new TextEncoder().encode(body) : body),
    dropAll: () => {
      for (const conn of [...all]) conn.destroy();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
