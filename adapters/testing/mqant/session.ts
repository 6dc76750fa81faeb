/**
 * Sessions (spec §5) and the module-side session API (§8 item 22).
 *
 * The gate keeps one `SessionState` per connection. Handlers get a `GateSession`: a fresh copy
 * per request whose methods go back to the gate, like mqant's module-to-gate RPCs (`Send`,
 * `Bind`, `Push`, …). Nothing here ever sends a packet to the client except `send`/`sendNR`/
 * `sendBatch`/`broadcast`, which write a QoS-0 PUBLISH with the body verbatim.
 */

import { randomBytes } from "node:crypto";

/** The gate's answer for any call on a session whose connection is gone (typo as in the source). */
export const NO_SESSION = "No Sesssion found";

export type Network = "tcp" | "websocket";

/** The gate's own copy of a session. */
export interface SessionState {
  readonly ip: string;
  readonly network: Network;
  readonly sessionId: string;
  readonly serverId: string;
  readonly traceId: string;
  userId: string;
  settings: Record<string, string>;
}

/** The gate side of the module-to-gate calls. */
export interface SessionHost {
  /** Queue a push on the session's connection; false when the session is gone. */
  send(sessionId: string, topic: string, body: Uint8Array): boolean;
  sendBatch(sessionIds: readonly string[], topic: string, body: Uint8Array): number;
  broadcast(topic: string, body: Uint8Array): number;
  state(sessionId: string): SessionState | undefined;
  isConnect(userId: string): boolean;
  /** Drop the connection without any MQTT packet; false when the session is gone. */
  close(sessionId: string): boolean;
}

/** A module-to-gate call failed; the message is the gate's error text (e.g. `No Sesssion found`). */
export class SessionError extends Error {
  override readonly name = "SessionError";
}

export function randomHex16(): string {
  return randomBytes(8).toString("hex");
}

function toBytes(body: Uint8Array | string): Uint8Array {
  return typeof body === "string" ? new TextEncoder().encode(body) : body;
}

/** The session a handler receives: a snapshot of the gate's state plus the calls back to the gate. */
export class GateSession {
  readonly ip: string;
  readonly network: Network;
  readonly sessionId: string;
  /** Node id of the gate that owns the connection. */
  readonly serverId: string;
  readonly traceId: string;
  /** New for every request. */
  readonly spanId: string;
  /** The request topic ("" outside a request). */
  readonly topic: string;
  /** "" means guest. */
  userId: string;
  /** Local copy; `push()` merges it into the gate's copy, `update()` reloads it. */
  settings: Record<string, string>;
  readonly #host: SessionHost;

  constructor(host: SessionHost, state: SessionState, topic = "") {
    this.#host = host;
    this.ip = state.ip;
    this.network = state.network;
    this.sessionId = state.sessionId;
    this.serverId = state.serverId;
    this.traceId = state.traceId;
    this.spanId = randomHex16();
    this.topic = topic;
    this.userId = state.userId;
    this.settings = { ...state.settings };
  }

  isGuest(): boolean {
    return this.userId === "";
  }

  get(key: string): string | undefined {
    return this.settings[key];
  }

  /**
   * Push `body` on `topic` to this session's client. The packet is queued before the promise
   * resolves, so it reaches the client before the reply of a handler that awaited it.
   */
  send(topic: string, body: Uint8Array | string): Promise<void> {
    return this.#host.send(this.sessionId, topic, toBytes(body))
      ? Promise.resolve()
      : Promise.reject(new SessionError(NO_SESSION));
  }

  /** Fire-and-forget push: not ordered against the handler's reply, failures are invisible. */
  sendNR(topic: string, body: Uint8Array | string): void {
    const bytes = toBytes(body);
    setImmediate(() => this.#host.send(this.sessionId, topic, bytes));
  }

  /** Push to several sessions ("id1,id2" or a list); resolves to how many were still connected. */
  async sendBatch(sessionIds: string | readonly string[], topic: string, body: Uint8Array | string) {
    const ids = typeof sessionIds === "string" ? sessionIds.split(",") : sessionIds;
    return this.#host.sendBatch(ids, topic, toBytes(body));
  }

  /** Push to every connection on the gate, guests included; resolves to the count. */
  async broadcast(topic: string, body: Uint8Array | string): Promise<number> {
    return this.#host.broadcast(topic, toBytes(body));
  }

  async bind(userId: string): Promise<void> {
    this.#mutate((s) => {
      s.userId = userId;
    });
  }

  async unbind(): Promise<void> {
    this.#mutate((s) => {
      s.userId = "";
    });
  }

  async set(key: string, value: string): Promise<void> {
    this.#mutate((s) => {
      s.settings[key] = value;
    });
  }

  async remove(key: string): Promise<void> {
    this.#mutate((s) => {
      delete s.settings[key];
    });
  }

  /** Merge the whole local settings map into the gate's copy. Keys missing locally are kept. */
  async push(): Promise<void> {
    const local = { ...this.settings };
    this.#mutate((s) => {
      Object.assign(s.settings, local);
    });
  }

  /** Reload userId and settings from the gate. */
  async update(): Promise<void> {
    this.#mutate(() => {});
  }

  /** Whether any live connection on the gate is bound to `userId`. */
  async isConnect(userId: string): Promise<boolean> {
    return this.#host.isConnect(userId);
  }

  /** Drop the client's socket. The client gets no MQTT packet. */
  async close(): Promise<void> {
    if (!this.#host.close(this.sessionId)) throw new SessionError(NO_SESSION);
  }

  /** A session returned as a handler result encodes as `{}`, as in Go. */
  toJSON(): Record<string, never> {
    return {};
  }

  #mutate(change: (state: SessionState) => void): void {
    const state = this.#host.state(this.sessionId);
    if (!state) throw new SessionError(NO_SESSION);
    change(state);
    this.userId = state.userId;
    this.settings = { ...state.settings };
  }
}
