/**
 * `startGnode()`: an in-process gmq node with its HTTP API and TCP protocol on loopback ports,
 * one shared broker, the scanner on real timers reading an injectable clock, and test hooks
 * (`scan()`, `restart()`, read-only introspection, the incident log).
 */

import { GmqError } from "gmq";
import { systemClock, type TestClock } from "../clock.js";
import { GnodeBroker, type GnodeIncident } from "./broker.js";
import { ChannelHub } from "./channels.js";
import { type HttpListener, startHttpListener } from "./http-server.js";
import type { GnodeQueue } from "./queue.js";
import { MAX_NODE_ID, SNOWFLAKE_EPOCH_MS } from "./snowflake.js";
import { startTcpListener, type TcpListener } from "./tcp-listener.js";

export interface GnodeOptions {
  /** Listen address for both interfaces. Default `127.0.0.1`. */
  readonly host?: string;
  /** 0 (default) picks a free port. */
  readonly httpPort?: number;
  /** 0 (default) picks a free port. */
  readonly tcpPort?: number;
  /** Snowflake node id, 0..1023. Default 1. */
  readonly nodeId?: number;
  /** Node TTR in seconds (`-msg_ttr`), 1..60. Default 30. `/config` can only lower it per topic. */
  readonly msgTTR?: number;
  /** Node retry limit (`-msg_max_retry`), ≥ 1. Default 5. */
  readonly msgMaxRetry?: number;
  /** Interval of the 105 frames a blocked TCP `pop` sends. Default 5000. */
  readonly heartbeatMs?: number;
  /** Delay + TTR scanner period on real time. Default 1000; 0 = only when `scan()` is called. */
  readonly scanIntervalMs?: number;
  /** Time for ids, delays, TTR and start times. Default the system clock; see `createManualClock`. */
  readonly clock?: TestClock;
  /** Reproduce upstream's per-queue read-ahead reader exactly (spec §7.1 #20). Default false. */
  readonly readAhead?: boolean;
  /** How long a channel `publish` waits for a backed-up channel before `timeout.`. Default 10000. */
  readonly publishTimeoutMs?: number;
  /** How long a socket lives after its last `ping` command. Default 5000. */
  readonly pingDeadlineMs?: number;
}

export interface GnodeRestartOptions {
  /** Graceful (default) saves topic metadata like a clean shutdown; false is a crash. */
  readonly graceful?: boolean;
  /** Keep refusing connections this long before coming back. Default 0. */
  readonly downMs?: number;
}

export interface GnodeQueueInfo {
  readonly name: string;
  readonly bindKey: string;
  /** Messages not read yet. */
  readonly unread: number;
  /** Messages read with manual ack and not acked yet (ackable). */
  readonly inFlight: number;
  /** Upstream's `num` counter (what TopicStat sums and restarts check). */
  readonly num: number;
  /** Consumers blocked on it (TCP `pop`/`dead`, HTTP `/pop`, abandoned ones included). */
  readonly consumers: number;
  /** readAhead: id of the message the hidden reader holds. */
  readonly heldByReadAhead: string | undefined;
}

export interface GnodeTopicInfo {
  readonly name: string;
  readonly mode: number;
  readonly isAutoAck: boolean;
  readonly msgTTR: number;
  readonly msgRetry: number;
  readonly pushNum: number;
  readonly popNum: number;
  readonly deadNum: number;
  /** Pending delayed messages (`delay_num`). */
  readonly delayed: number;
  readonly queues: Readonly<Record<string, GnodeQueueInfo>>;
  readonly deadQueues: Readonly<Record<string, GnodeQueueInfo>>;
}

export interface GnodeEmulator extends AsyncDisposable {
  readonly host: string;
  readonly httpPort: number;
  readonly tcpPort: number;
  /** `http://<host>:<httpPort>` */
  readonly httpUrl: string;
  readonly tcpAddress: { readonly host: string; readonly port: number };
  readonly nodeId: number;
  readonly clock: TestClock;
  /**
   * Upstream crashes and hangs that were answered instead (spec §7.2), in order. Tests that are
   * not about one should assert this is empty: an entry means a real node would have died or hung.
   */
  readonly incidents: readonly GnodeIncident[];
  /** Run one delay + TTR scan now, at the clock's current time. */
  scan(): void;
  /** A loaded topic's state, or undefined (never loads or creates it). */
  topic(name: string): GnodeTopicInfo | undefined;
  /** Names of the loaded topics. */
  topicNames(): string[];
  /** Live channels and their subscriber counts. */
  channels(): Record<string, number>;
  /** Open TCP connections. */
  tcpConnections(): number;
  /**
   * Simulate a node restart (spec §7.1 #17) on the same ports: sockets close, HTTP waiters are
   * dropped, topics unload (graceful: with their metadata saved), channels vanish; delayed
   * messages and ids carry on.
   */
  restart(options?: GnodeRestartOptions): Promise<void>;
  close(): Promise<void>;
}

function checkInt(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw GmqError.invalid(field, `must be an integer in ${min}..${max}, got ${value}`);
  }
  return value;
}

function queueInfo(q: GnodeQueue): GnodeQueueInfo {
  return {
    name: q.name,
    bindKey: q.bindKey,
    unread: q.unreadCount,
    inFlight: q.inFlightCount,
    num: q.num,
    consumers: q.waitingConsumers,
    heldByReadAhead: q.heldByReadAhead?.id.toString(),
  };
}

export async function startGnode(options: GnodeOptions = {}): Promise<GnodeEmulator> {
  const host = options.host ?? "127.0.0.1";
  const httpPort = checkInt("httpPort", options.httpPort ?? 0, 0, 65535);
  const tcpPort = checkInt("tcpPort", options.tcpPort ?? 0, 0, 65535);
  const nodeId = checkInt("nodeId", options.nodeId ?? 1, 0, MAX_NODE_ID);
  const msgTTR = checkInt("msgTTR", options.msgTTR ?? 30, 1, 60);
  const msgMaxRetry = checkInt("msgMaxRetry", options.msgMaxRetry ?? 5, 1, 0xffff);
  const heartbeatMs = checkInt("heartbeatMs", options.heartbeatMs ?? 5000, 1, 2 ** 31 - 1);
  const scanIntervalMs = checkInt("scanIntervalMs", options.scanIntervalMs ?? 1000, 0, 2 ** 31 - 1);
  const publishTimeoutMs = checkInt("publishTimeoutMs", options.publishTimeoutMs ?? 10_000, 1, 2 ** 31 - 1);
  const pingDeadlineMs = checkInt("pingDeadlineMs", options.pingDeadlineMs ?? 5000, 1, 2 ** 31 - 1);
  const clock = options.clock ?? systemClock;
  // Ids are only above 2^53 (as clients must assume) once 2^31 ms have passed since the epoch.
  if (!(clock.now() >= SNOWFLAKE_EPOCH_MS + 2 ** 31)) {
    throw GmqError.invalid("clock", "must read a time after 2017-01-25 (snowflake ids need it)");
  }

  const broker = new GnodeBroker({
    nodeId,
    msgTTR,
    msgMaxRetry,
    readAhead: options.readAhead ?? false,
    clock,
  });
  const channels = new ChannelHub(publishTimeoutMs);
  const tcp: TcpListener = await startTcpListener(
    { broker, channels, heartbeatMs, pingDeadlineMs },
    host,
    tcpPort,
  );
  let http: HttpListener;
  try {
    http = await startHttpListener(broker, host, httpPort);
  } catch (error) {
    await tcp.close();
    throw error;
  }

  let scanner: NodeJS.Timeout | undefined;
  const startScanner = () => {
    if (scanIntervalMs > 0) scanner = setInterval(() => broker.scan(), scanIntervalMs).unref();
  };
  startScanner();

  const restart = async ({ graceful = true, downMs = 0 }: GnodeRestartOptions = {}) => {
    clearInterval(scanner);
    tcp.down = true;
    http.down = true;
    if (graceful) {
      for (const name of [...broker.topics.keys()]) {
        for (const consumer of broker.unload(name)) consumer.topicExited();
      }
      // Let the TCP sessions write the `closed.` frames before their sockets go.
      await new Promise((resolve) => setImmediate(resolve));
    } else {
      broker.dropAll();
    }
    channels.clear();
    await Promise.all([tcp.dropConnections(graceful), http.dropConnections()]);
    // In-process clients see their sockets' end on the next turns of the event loop; let them, so
    // a keep-alive pool does not hand out a connection that is already gone.
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
    tcp.down = false;
    http.down = false;
    startScanner();
  };

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      clearInterval(scanner);
      channels.clear();
      await Promise.all([tcp.close(), http.close()]);
    })();
    return closing;
  };

  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    host,
    httpPort: http.port,
    tcpPort: tcp.port,
    httpUrl: `http://${urlHost}:${http.port}`,
    tcpAddress: { host, port: tcp.port },
    nodeId,
    clock,
    incidents: broker.incidents,
    scan: () => broker.scan(),
    topic: (name) => {
      const t = broker.loaded(name);
      if (!t) return undefined;
      const infos = (m: Map<string, GnodeQueue>) =>
        Object.fromEntries([...m].map(([k, q]) => [k, queueInfo(q)]));
      return {
        name: t.name,
        mode: t.mode,
        isAutoAck: t.isAutoAck,
        msgTTR: t.msgTTR,
        msgRetry: t.msgRetry,
        pushNum: t.pushNum,
        popNum: t.popNum,
        deadNum: t.deadNum,
        delayed: broker.delays.count(name),
        queues: infos(t.queues),
        deadQueues: infos(t.deadQueues),
      };
    },
    topicNames: () => [...broker.topics.keys()],
    channels: () => channels.counts(),
    tcpConnections: () => tcp.sessions.size,
    restart,
    close,
    [Symbol.asyncDispose]: close,
  };
}
