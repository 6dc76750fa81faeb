/**
 * Raw clients for the gnode emulator tests: `fetch` for HTTP and a `node:net` socket with a tiny
 * frame reader for TCP. Deliberately independent of the emulator's code and of any gmq adapter:
 * frames are built and split by hand here.
 */

import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";
import { afterEach, expect } from "vitest";
import { type GnodeEmulator, type GnodeOptions, startGnode } from "../../adapters/testing/index.js";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const MESSAGE = 101;
export const ERROR = 102;
export const RESULT = 103;
export const CHANNEL = 104;
export const PING = 105;

// ---------------------------------------------------------------------------------------------
// Lifecycle: every node and socket a test opens is closed after it, and every node must end the
// test with no incident unless the test took them with `takeIncidents`.

const openNodes: GnodeEmulator[] = [];
const checkedNodes = new Set<GnodeEmulator>();
const openSockets: Socket[] = [];

afterEach(async () => {
  const nodes = openNodes.splice(0);
  for (const s of openSockets.splice(0)) s.destroy();
  try {
    for (const node of nodes) {
      if (!checkedNodes.has(node)) expect(node.incidents, "incidents").toEqual([]);
    }
  } finally {
    checkedNodes.clear();
    await Promise.all(nodes.map((n) => n.close()));
  }
});

export async function startNode(options: GnodeOptions = {}): Promise<GnodeEmulator> {
  const node = await startGnode(options);
  openNodes.push(node);
  return node;
}

/** Take the incidents of a test that is about them (the after-each check then skips this node). */
export function takeIncidents(node: GnodeEmulator): Array<{ kind: string; detail: string }> {
  checkedNodes.add(node);
  return [...node.incidents];
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface HttpResult {
  status: number;
  contentType: string | null;
  text: string;
  headers: Headers;
}

export interface Envelope {
  code: number;
  data: unknown;
  msg: string;
}

export async function http(
  node: GnodeEmulator,
  path: string,
  params?: Record<string, string>,
  init?: RequestInit,
): Promise<HttpResult> {
  const qs = params ? `?${new URLSearchParams(params)}` : "";
  const res = await fetch(`${node.httpUrl}${path}${qs}`, init);
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    text: await res.text(),
    headers: res.headers,
  };
}

/** A JSON endpoint: checks the status and content type every envelope must have, returns it parsed. */
export async function api(
  node: GnodeEmulator,
  path: string,
  params?: Record<string, string>,
  init?: RequestInit,
): Promise<Envelope> {
  const r = await http(node, path, params, init);
  expect(r.status).toBe(200);
  expect(r.contentType).toBe("application/json");
  return JSON.parse(r.text) as Envelope;
}

/** `/push` as an urlencoded POST with `data=<JSON>` (a string is sent as is). */
export function push(node: GnodeEmulator, data: unknown): Promise<Envelope> {
  const text = typeof data === "string" ? data : JSON.stringify(data);
  return api(node, "/push", undefined, { method: "POST", body: new URLSearchParams({ data: text }) });
}

/** Push and return the id, failing the test on an error envelope. */
export async function pushOk(
  node: GnodeEmulator,
  topic: string,
  routeKey: string,
  body: string,
  delay = 0,
): Promise<string> {
  const r = await push(node, { topic, route_key: routeKey, body, delay });
  expect(r, JSON.stringify(r)).toMatchObject({ code: 0, msg: "success" });
  return (r.data as { msgId: string }).msgId;
}

export async function declare(node: GnodeEmulator, topic: string, ...bindKeys: string[]): Promise<void> {
  for (const bindKey of bindKeys) {
    expect(await api(node, "/declareQueue", { topic, bindKey })).toEqual({ code: 0, data: null, msg: "ok" });
  }
}

export async function config(
  node: GnodeEmulator,
  topic: string,
  params: Record<string, string>,
): Promise<void> {
  expect(await api(node, "/config", { topic, ...params })).toEqual({ code: 0, data: null, msg: "success" });
}

export interface Delivery {
  id: string;
  body: string;
  retry_count: number;
}

/** A `/pop` that must answer (the queue holds a message). */
export async function popNow(node: GnodeEmulator, topic: string, bindKey: string): Promise<Delivery> {
  const r = await api(node, "/pop", { topic, bindKey });
  expect(r, JSON.stringify(r)).toMatchObject({ code: 0, msg: "success" });
  return r.data as Delivery;
}

export async function stat(node: GnodeEmulator, topic: string): Promise<Record<string, unknown>> {
  const r = await api(node, "/getTopicStat", { topic });
  expect(r.code, r.msg).toBe(0);
  return r.data as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// TCP

export interface Frame {
  type: number;
  payload: Buffer;
  /** The payload as UTF-8. */
  text: string;
}

/** `[u32 BE length][bytes]`, the item that follows `pub`, `mpub` and `publish` lines. */
export function item(body: string | Uint8Array): Buffer {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

export function frameBytes(type: number, payload: string | Uint8Array): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : Buffer.from(payload);
  const head = Buffer.alloc(6);
  head.writeUInt16BE(type, 0);
  head.writeUInt32BE(body.length, 2);
  return Buffer.concat([head, body]);
}

export class RawTcp {
  readonly frames: Frame[] = [];
  /** Every byte received, for exact-byte assertions. */
  received = Buffer.alloc(0);
  closed = false;
  #pending = Buffer.alloc(0);
  #cursor = 0;
  #listeners = new Set<() => void>();
  readonly whenClosed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.#pending = Buffer.concat([this.#pending, chunk]);
      while (this.#pending.length >= 6) {
        const n = this.#pending.readUInt32BE(2);
        if (this.#pending.length < 6 + n) break;
        const payload = this.#pending.subarray(6, 6 + n);
        this.frames.push({ type: this.#pending.readUInt16BE(0), payload, text: payload.toString("utf8") });
        this.#pending = this.#pending.subarray(6 + n);
      }
      this.notify();
    });
    socket.on("error", () => {});
    this.whenClosed = new Promise((resolve) => {
      socket.on("close", () => {
        this.closed = true;
        this.notify();
        resolve();
      });
    });
  }

  static async open(node: GnodeEmulator): Promise<RawTcp> {
    const socket = connect(node.tcpAddress.port, node.tcpAddress.host);
    openSockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    socket.setNoDelay(true);
    return new RawTcp(socket);
  }

  /** Everything in one write. */
  send(...parts: Array<string | Uint8Array>): void {
    this.socket.write(
      Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p)))),
    );
  }

  /** One write per byte-slice, with a pause between them, to split frames at awkward places. */
  async sendSlowly(bytes: Buffer, sliceSize = 1, pauseMs = 2): Promise<void> {
    for (let i = 0; i < bytes.length; i += sliceSize) {
      this.socket.write(bytes.subarray(i, i + sliceSize));
      await sleep(pauseMs);
    }
  }

  private notify(): void {
    for (const l of [...this.#listeners]) l();
  }

  /** The next frame not yet taken (105 heartbeats included unless `skipPings`). */
  async next(options: { timeoutMs?: number; skipPings?: boolean } = {}): Promise<Frame> {
    const { timeoutMs = 3000, skipPings = false } = options;
    const take = (): Frame | undefined => {
      while (this.#cursor < this.frames.length) {
        const f = this.frames[this.#cursor++]!;
        if (!(skipPings && f.type === PING)) return f;
      }
      return undefined;
    };
    const ready = take();
    if (ready) return ready;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`no frame within ${timeoutMs} ms (closed: ${this.closed})`));
      }, timeoutMs);
      const check = () => {
        const f = take();
        if (f) {
          clearTimeout(timer);
          this.#listeners.delete(check);
          resolve(f);
        } else if (this.closed) {
          clearTimeout(timer);
          this.#listeners.delete(check);
          reject(new Error("socket closed before the next frame"));
        }
      };
      this.#listeners.add(check);
    });
  }

  /** The next frame, asserting its type; returns its text. */
  async expect(type: number, options: { timeoutMs?: number; skipPings?: boolean } = {}): Promise<string> {
    const f = await this.next(options);
    expect({ type: f.type, text: f.text }).toMatchObject({ type });
    return f.text;
  }

  /** Asserts the next frame is exactly this error text (`E_INVALID_…` or raw). */
  async expectError(text: string): Promise<void> {
    const f = await this.next();
    expect({ type: f.type, text: f.text }).toEqual({ type: ERROR, text });
  }

  /** Waits for the server to close the socket, asserting no further frame came first. */
  async expectClosed(timeoutMs = 3000): Promise<void> {
    const before = this.frames.length;
    await Promise.race([
      this.whenClosed,
      sleep(timeoutMs).then(() => {
        throw new Error(`socket still open after ${timeoutMs} ms`);
      }),
    ]);
    expect(this.frames.slice(before).map((f) => f.text)).toEqual([]);
    expect(this.#cursor, "unread frames before the close").toBe(this.frames.length);
  }

  /** Asserts nothing arrives (and the socket stays open) for `ms`. */
  async expectQuiet(ms: number): Promise<void> {
    const before = this.frames.length;
    await sleep(ms);
    expect(this.frames.slice(before).map((f) => [f.type, f.text])).toEqual([]);
    expect(this.closed).toBe(false);
  }

  /** Round trip that proves every earlier line was handled: declares a throwaway queue. */
  async sync(): Promise<void> {
    const key = `sync${Math.random().toString(36).slice(2, 10)}`;
    this.send(`queue sync-topic ${key}\n`);
    expect(await this.expect(RESULT)).toBe("ok");
  }

  /** Full command: `pub` with an item; returns the id. */
  async pub(
    topic: string,
    routeKey: string,
    body: string | Uint8Array,
    delay: number | string = 0,
  ): Promise<string> {
    this.send(`pub ${topic} ${routeKey} ${delay}\n`, item(body));
    return this.expect(RESULT);
  }

  async declare(topic: string, bindKey: string): Promise<void> {
    this.send(`queue ${topic} ${bindKey}\n`);
    expect(await this.expect(RESULT)).toBe("ok");
  }

  /** `pop` and the message it returns (heartbeats skipped). */
  async pop(
    topic: string,
    bindKey: string,
    timeoutMs = 3000,
  ): Promise<{ id: string; body: string; retry_count: number }> {
    this.send(`pop ${topic} ${bindKey}\n`);
    return JSON.parse(await this.expect(MESSAGE, { skipPings: true, timeoutMs }));
  }

  close(): void {
    this.socket.destroy();
  }
}
