/**
 * Raw MQTT byte helpers for the mqant gate emulator tests. Deliberately independent of the
 * emulator's own parser and of gmq: packets are built and split by hand here.
 */

import { connect as netConnect, type Socket } from "node:net";
import { WebSocket } from "ws";

const enc = new TextEncoder();
const dec = new TextDecoder();

export const bytes = (s: string): Uint8Array => enc.encode(s);
export const text = (b: Uint8Array): string => dec.decode(b);
export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let d = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) d |= 128;
    out.push(d);
  } while (n > 0);
  return out;
}

function str(s: string | Uint8Array): number[] {
  const b = typeof s === "string" ? enc.encode(s) : s;
  return [b.length >> 8, b.length & 255, ...b];
}

function packet(first: number, body: number[]): Uint8Array {
  return Uint8Array.from([first, ...remainingLength(body.length), ...body]);
}

export interface ConnectOptions {
  clientId?: string | Uint8Array;
  keepAlive?: number;
  protocol?: string;
  level?: number;
  clean?: boolean;
  username?: string;
  password?: string;
  will?: { topic: string; message: string };
  /** v5 properties block written before the client id (varint length + properties). */
  v5Properties?: number[];
}

export function connectPacket(o: ConnectOptions = {}): Uint8Array {
  let flags = o.clean === false ? 0 : 0x02;
  if (o.will) flags |= 0x04;
  if (o.password !== undefined) flags |= 0x40;
  if (o.username !== undefined) flags |= 0x80;
  const keepAlive = o.keepAlive ?? 60;
  const body = [
    ...str(o.protocol ?? "MQTT"),
    o.level ?? 4,
    flags,
    keepAlive >> 8,
    keepAlive & 255,
    ...(o.v5Properties ?? []),
    ...str(o.clientId ?? "raw-client"),
  ];
  if (o.will) body.push(...str(o.will.topic), ...str(o.will.message));
  if (o.username !== undefined) body.push(...str(o.username));
  if (o.password !== undefined) body.push(...str(o.password));
  return packet(0x10, body);
}

export function publishPacket(
  topic: string,
  payload: Uint8Array | string,
  o: { qos?: number; id?: number; dup?: boolean; retain?: boolean } = {},
): Uint8Array {
  const qos = o.qos ?? 0;
  const first = 0x30 | (o.dup ? 0x08 : 0) | (qos << 1) | (o.retain ? 1 : 0);
  const id = o.id ?? 1;
  const p = typeof payload === "string" ? enc.encode(payload) : payload;
  const body = [...str(topic), ...(qos > 0 ? [id >> 8, id & 255] : [])];
  // Spread would blow the stack for big payloads; build the array by concatenation instead.
  const head = Uint8Array.from([first, ...remainingLength(body.length + p.length), ...body]);
  const out = new Uint8Array(head.length + p.length);
  out.set(head);
  out.set(p, head.length);
  return out;
}

export function subscribePacket(id: number, filters: Array<[string, number]>): Uint8Array {
  return packet(0x82, [id >> 8, id & 255, ...filters.flatMap(([t, q]) => [...str(t), q])]);
}

export function unsubscribePacket(id: number, topics: string[]): Uint8Array {
  return packet(0xa2, [id >> 8, id & 255, ...topics.flatMap((t) => str(t))]);
}

export const PINGREQ = Uint8Array.of(0xc0, 0x00);
export const DISCONNECT = Uint8Array.of(0xe0, 0x00);
export const pubrel = (id: number) => Uint8Array.of(0x62, 0x02, id >> 8, id & 255);
export const pubrec = (id: number) => Uint8Array.of(0x50, 0x02, id >> 8, id & 255);

/** One packet from the server, split by the standard MQTT framing. */
export interface ServerPacket {
  readonly type: number;
  readonly first: number;
  readonly raw: Uint8Array;
  /** PUBLISH only. */
  readonly topic?: string;
  readonly payload?: Uint8Array;
}

type Waiter = { pred: (p: ServerPacket) => boolean; resolve: (p: ServerPacket) => void };

/** A bare MQTT client over TCP or WebSocket that records every byte and packet the server sends. */
export class RawClient {
  readonly packets: ServerPacket[] = [];
  /** WebSocket frames as received (binary flag and size). */
  readonly frames: Array<{ binary: boolean; size: number }> = [];
  received = new Uint8Array(0);
  readonly closed: Promise<void>;
  isClosed = false;
  closeCode: number | undefined;
  #buf = new Uint8Array(0);
  #taken = new Set<ServerPacket>();
  #waiters: Waiter[] = [];
  #markClosed!: () => void;

  private constructor(
    private readonly sock: { write(b: Uint8Array): void; writeText?(s: string): void; end(): void },
  ) {
    this.closed = new Promise((r) => {
      this.#markClosed = r;
    });
  }

  static tcp(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket: Socket = netConnect(port, "127.0.0.1");
      const c = new RawClient({ write: (b) => socket.write(b), end: () => socket.destroy() });
      socket.on("data", (d: Buffer) => c.#onBytes(new Uint8Array(d)));
      socket.on("error", () => {});
      socket.on("close", () => c.#onClose());
      socket.once("connect", () => resolve(c));
      socket.once("error", reject);
    });
  }

  static ws(
    url: string,
    protocols: string | string[] | undefined = "mqtt",
    options: { headers?: Record<string, string> } = {},
  ): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols, options);
      const c = new RawClient({
        write: (b) => ws.send(b, { binary: true }),
        writeText: (s) => ws.send(s, { binary: false }),
        end: () => ws.terminate(),
      });
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        c.frames.push({ binary: isBinary, size: data.length });
        c.#onBytes(new Uint8Array(data));
      });
      ws.on("close", (code) => {
        c.closeCode = code;
        c.#onClose();
      });
      ws.once("open", () => resolve(c));
      ws.once("error", reject);
    });
  }

  send(b: Uint8Array): void {
    this.sock.write(b);
  }

  /** WebSocket only: send bytes as a text frame (they must be valid UTF-8). */
  sendText(b: Uint8Array): void {
    if (!this.sock.writeText) throw new Error("not a WebSocket client");
    this.sock.writeText(dec.decode(b));
  }

  close(): void {
    this.sock.end();
  }

  /** CONNECT and wait for the CONNACK. */
  async connect(o: ConnectOptions = {}): Promise<ServerPacket> {
    this.send(connectPacket(o));
    return this.waitFor((p) => p.type === 2);
  }

  /** Resolve with the first packet matching `pred` not already returned by an earlier wait. */
  waitFor(pred: (p: ServerPacket) => boolean = () => true, timeoutMs = 3000): Promise<ServerPacket> {
    const hit = this.packets.find((p) => !this.#taken.has(p) && pred(p));
    if (hit) {
      this.#taken.add(hit);
      return Promise.resolve(hit);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a packet`));
      }, timeoutMs);
      const waiter: Waiter = {
        pred,
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  /** Wait for the PUBLISH on exactly `topic`. */
  publishOn(topic: string, timeoutMs = 3000): Promise<ServerPacket> {
    return this.waitFor((p) => p.type === 3 && p.topic === topic, timeoutMs);
  }

  /** Send a request and return its decoded envelope and raw payload text. */
  async request(
    topic: string,
    payload: Uint8Array | string | object,
    qos = 0,
  ): Promise<{ Trace: string; Error: string; Result: unknown; raw: string }> {
    const body =
      typeof payload === "object" && !(payload instanceof Uint8Array) ? JSON.stringify(payload) : payload;
    this.send(publishPacket(topic, body, { qos, id: 7 }));
    const p = await this.publishOn(topic);
    const raw = text(p.payload!);
    return { ...JSON.parse(raw), raw };
  }

  /** Wait until the server closes the socket; rejects if it stays open for `timeoutMs`. */
  expectClosed(timeoutMs = 3000): Promise<void> {
    return Promise.race([
      this.closed,
      sleep(timeoutMs).then(() => {
        if (!this.isClosed) throw new Error(`socket still open after ${timeoutMs} ms`);
      }),
    ]);
  }

  /** Publishes received so far on `topic`. */
  publishesOn(topic: string): ServerPacket[] {
    return this.packets.filter((p) => p.type === 3 && p.topic === topic);
  }

  #onClose(): void {
    this.isClosed = true;
    this.#markClosed();
  }

  #onBytes(chunk: Uint8Array): void {
    const all = new Uint8Array(this.received.length + chunk.length);
    all.set(this.received);
    all.set(chunk, this.received.length);
    this.received = all;
    const buf = new Uint8Array(this.#buf.length + chunk.length);
    buf.set(this.#buf);
    buf.set(chunk, this.#buf.length);
    this.#buf = buf;
    for (;;) {
      const p = splitOne(this.#buf);
      if (!p) break;
      this.#buf = this.#buf.subarray(p.raw.length);
      this.packets.push(p);
      const w = this.#waiters.find((x) => x.pred(p));
      if (w) {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        this.#taken.add(p);
        w.resolve(p);
      }
    }
  }
}

function splitOne(buf: Uint8Array): ServerPacket | undefined {
  if (buf.length < 2) return undefined;
  let len = 0;
  let mult = 1;
  let i = 1;
  for (;;) {
    const b = buf[i];
    if (b === undefined) return undefined;
    len += (b & 127) * mult;
    mult *= 128;
    i++;
    if ((b & 128) === 0) break;
  }
  if (buf.length < i + len) return undefined;
  const raw = buf.slice(0, i + len);
  const first = raw[0]!;
  const type = first >> 4;
  if (type !== 3) return { type, first, raw };
  const body = raw.subarray(i);
  const tlen = (body[0]! << 8) | body[1]!;
  const qos = (first >> 1) & 3;
  const topic = text(body.subarray(2, 2 + tlen));
  const payload = body.slice(2 + tlen + (qos > 0 ? 2 : 0));
  return { type, first, raw, topic, payload };
}

/** Perform a WebSocket upgrade by hand and return the raw response head. */
export function rawUpgrade(port: number, path: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, "127.0.0.1");
    let head = "";
    socket.on("data", (d: Buffer) => {
      head += d.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end >= 0) {
        socket.destroy();
        resolve(head.slice(0, end));
      }
    });
    socket.on("error", reject);
    socket.on("connect", () => {
      const lines = [
        `GET ${path} HTTP/1.1`,
        "Host: 127.0.0.1",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      ];
      socket.write(`${lines.join("\r\n")}\r\n\r\n`);
    });
  });
}

/** Track clients and gates so afterEach can always tear them down. */
export class Cleanup {
  #items: Array<() => unknown> = [];
  add<T extends { close(): unknown }>(x: T): T {
    this.#items.push(() => x.close());
    return x;
  }
  async run(): Promise<void> {
    const items = this.#items.reverse();
    this.#items = [];
    for (const f of items) await f();
  }
}
