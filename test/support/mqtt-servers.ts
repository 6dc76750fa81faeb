/**
 * Real MQTT servers from the system, each started from a generated config on free loopback ports
 * and restartable on the same ports (for fault tests).
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import {
  freePort,
  type RunningProcess,
  requireBinary,
  startProcess,
  tempDir,
  writeConfig,
} from "./system.js";

export const mosquittoBinary = requireBinary("mosquitto", "/usr/sbin/mosquitto");
export const natsBinary = requireBinary("nats-server", "/usr/sbin/nats-server");
export const mosquittoPasswdBinary = requireBinary("mosquitto_passwd", "/usr/bin/mosquitto_passwd");

export interface SystemServer {
  readonly tcpUrl: string;
  /** Present when the server has a WebSocket listener. */
  readonly wsUrl?: string;
  /** `mqtts://` or `wss://` URL of each TLS listener asked for, by name. */
  readonly tlsUrls?: Readonly<Record<string, string>>;
  /** Kill the process (every connection drops). */
  stop(): Promise<void>;
  /** Start it again on the same ports. */
  start(): Promise<void>;
  /** Kill and start again. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

async function managed(
  launch: () => Promise<RunningProcess>,
  cleanup: () => void,
): Promise<Omit<SystemServer, "tcpUrl" | "wsUrl">> {
  let running: RunningProcess | undefined = await launch();
  const stop = async () => {
    const current = running;
    running = undefined;
    await current?.stop();
  };
  const start = async () => {
    if (!running) running = await launch();
  };
  return {
    stop,
    start,
    restart: async () => {
      await stop();
      await start();
    },
    close: async () => {
      await stop();
      cleanup();
    },
  };
}

export interface MosquittoOptions {
  /** Sessions and their queued messages survive a restart (saved at SIGTERM). */
  persistence?: boolean;
  /** Only these users (name → password) may connect: a password file, no anonymous access. */
  users?: Readonly<Record<string, string>>;
  /** Extra TLS listeners, by name: MQTT over TLS (`mqtts://`) or WebSocket over TLS (`wss://`). */
  tls?: Readonly<Record<string, TlsListener>>;
}

export interface TlsListener {
  /** PEM files: the certificate (with its chain, if the broker should send one) and its key. */
  readonly cert: string;
  readonly key: string;
  readonly websockets?: boolean;
}

/**
 * Mosquitto 2 with a TCP and a WebSocket listener, MQTT 5 and 3.1.1, anonymous unless `users`.
 */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<SystemServer> {
  const dir = tempDir("mosquitto");
  const tcpPort = await freePort();
  const wsPort = await freePort();
  const passwordFile = options.users ? writePasswordFile(dir.path, options.users) : undefined;
  const tls = await Promise.all(
    Object.entries(options.tls ?? {}).map(async ([name, listener]) => ({
      name,
      listener,
      port: await freePort(),
    })),
  );
  // Started as root, Mosquitto drops to user "mosquitto", which cannot read our temp dir.
  const runAsUs = passwordFile !== undefined || tls.length > 0 || options.persistence === true;
  const config = writeConfig(
    dir.path,
    "mosquitto.conf",
    [
      "per_listener_settings false",
      ...(runAsUs ? [`user ${userInfo().username}`] : []),
      ...(passwordFile
        ? ["allow_anonymous false", `password_file ${passwordFile}`]
        : ["allow_anonymous true"]),
      "set_tcp_nodelay true",
      ...(options.persistence
        ? ["persistence true", `persistence_location ${dir.path}/`]
        : ["persistence false"]),
      "max_queued_messages 100000",
      `listener ${tcpPort} 127.0.0.1`,
      `listener ${wsPort} 127.0.0.1`,
      "protocol websockets",
      ...tls.flatMap(({ listener, port }) => [
        `listener ${port} 127.0.0.1`,
        ...(listener.websockets ? ["protocol websockets"] : []),
        `certfile ${listener.cert}`,
        `keyfile ${listener.key}`,
      ]),
      "",
    ].join("\n"),
  );
  const server = await managed(
    () =>
      startProcess(mosquittoBinary.path, ["-c", config], {
        ports: [tcpPort, wsPort, ...tls.map((t) => t.port)],
      }),
    dir.remove,
  );
  const tlsUrls = Object.fromEntries(
    tls.map(({ name, listener, port }) => [
      name,
      listener.websockets ? `wss://127.0.0.1:${port}/mqtt` : `mqtts://127.0.0.1:${port}`,
    ]),
  );
  return {
    tcpUrl: `mqtt://127.0.0.1:${tcpPort}`,
    wsUrl: `ws://127.0.0.1:${wsPort}/mqtt`,
    ...(tls.length > 0 && { tlsUrls }),
    ...server,
  };
}

/** A Mosquitto password file (hashed by mosquitto_passwd) for `users`. */
function writePasswordFile(dir: string, users: Readonly<Record<string, string>>): string {
  if (!mosquittoPasswdBinary.available) throw new Error("mosquitto_passwd is needed for a password file");
  const file = join(dir, "passwords");
  writeFileSync(file, "");
  for (const [user, password] of Object.entries(users)) {
    const result = spawnSync(mosquittoPasswdBinary.path, ["-b", file, user, password], { encoding: "utf8" });
    if (result.status !== 0) throw new Error(`mosquitto_passwd failed: ${result.stderr}`);
  }
  return file;
}

/** nats-server with JetStream and its MQTT listener (MQTT 3.1.1 only). */
export async function startNatsMqtt(): Promise<SystemServer> {
  const dir = tempDir("nats");
  const clientPort = await freePort();
  const mqttPort = await freePort();
  const config = writeConfig(
    dir.path,
    "nats.conf",
    [
      `server_name: gmq_test_${process.pid}_${mqttPort}`,
      `listen: 127.0.0.1:${clientPort}`,
      `jetstream { store_dir: "${dir.path}/jetstream" }`,
      `mqtt { listen: 127.0.0.1:${mqttPort} }`,
      "",
    ].join("\n"),
  );
  const server = await managed(
    () => startProcess(natsBinary.path, ["-c", config], { ports: [clientPort, mqttPort], timeoutMs: 20_000 }),
    dir.remove,
  );
  return { tcpUrl: `mqtt://127.0.0.1:${mqttPort}`, ...server };
}
