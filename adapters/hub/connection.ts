/**
 * One client connection: the connect/authenticate handshake, frame dispatch, heartbeats,
 * credential expiry and in-band refresh, the per-connection rate limit and send queue, and
 * tearing everything down once, whichever side closes. Nothing a client sends can throw out of
 * here: every failure becomes an `error` frame or a close code.
 */
import type { IncomingMessage } from "node:http";
import type { RawData, WebSocket } from "ws";
import { ConnectionSubscriptions } from "./connection-subscriptions.js";
import type { CallRequest, CallResult, EngineSession } from "./engine.js";
import { wireError } from "./engine.js";
import { decodeFrame, FrameError } from "./frames.js";
import type { CallServer, Handlers } from "./handlers.js";
import type { Authenticate, Authorize, AuthorizeRequest, Identity, ResolvedLimits } from "./options.js";
import type {
  CallFrame,
  ClientFrame,
  ConnectedFrame,
  ConnectFrame,
  HandleFrame,
  HubFrame,
  RefreshFrame,
  WireError,
} from "./protocol.js";
import { CloseCode } from "./protocol.js";
import { Publisher } from "./publisher.js";
import type { Router } from "./router.js";
import { RateLimiter, SendQueue } from "./send-queue.js";
import { ServedCalls } from "./served-calls.js";

export interface ConnectionContext {
  readonly engine: EngineSession;
  readonly router: Router;
  readonly handlers: Handlers;
  readonly limits: ResolvedLimits;
  readonly heartbeat: { readonly intervalMs: number; readonly graceMs: number };
  readonly authenticate: Authenticate | undefined;
  readonly authorize: Authorize | undefined;
  readonly session: string;
  readonly onError: (error: unknown) => void;
  readonly onClosed: (connection: Connection) => void;
}

/** Frames a client may pipeline after `connect`, before `connected`. */
const MAX_EARLY_FRAMES = 64;
/** A peer that does not finish the close handshake is cut after this. */
const CLOSE_GRACE_MS = 2_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

type Rid = string | number;

export class Connection implements CallServer {
  private state: "awaiting" | "authenticating" | "open" | "closed" = "awaiting";
  private identity: Identity = {};
  private clientId: string | undefined;
  private client: ConnectFrame["client"];
  private early: string[] = [];
  private readonly subs: ConnectionSubscriptions;
  private readonly handled = new Map<string, { service: string; method: string }>();
  private readonly served: ServedCalls;
  private readonly publisher: Publisher;
  private callsWaiting = 0;
  private lastReceived = Date.now();
  private readonly timers = new Set<NodeJS.Timeout>();
  private pingTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly queue: SendQueue;
  private readonly rate: RateLimiter;
  private rateStrikes = 0;

  constructor(
    private readonly socket: WebSocket,
    private readonly request: IncomingMessage,
    private readonly ctx: ConnectionContext,
  ) {
    const { limits } = ctx;
    this.queue = new SendQueue(socket, request.socket, limits, () =>
      this.close(CloseCode.slowConsumer, "slow consumer"),
    );
    this.rate = new RateLimiter(limits.ratePerSecond, limits.rateBurst);
    this.served = new ServedCalls(limits.maxPendingCalls, (frame) => this.frame(frame));
    const owner = this;
    this.subs = new ConnectionSubscriptions(ctx.engine, ctx.router, limits, {
      send: (text) => this.send(text),
      frame: (frame) => this.frame(frame),
      fail: (rid, error) => this.fail(rid, error),
      allowed: (request) => this.allowed(request),
      slow: () => this.close(CloseCode.slowConsumer, "slow consumer"),
      onError: ctx.onError,
    });
    this.publisher = new Publisher(ctx.engine, {
      get open() {
        return owner.state === "open";
      },
      get clientId() {
        return owner.clientId;
      },
      allowed: (request, clientId) => this.allowed(request, clientId),
      frame: (frame) => this.frame(frame),
      fail: (rid, error) => this.fail(rid, error),
      onError: ctx.onError,
    });
    socket.on("message", (data, isBinary) => this.onFrame(data, isBinary));
    socket.on("close", () => this.teardown());
    // Oversize frames (1009) and broken sockets: ws closes the socket itself; we only clean up.
    socket.on("error", () => this.teardown());
    this.after(limits.connectTimeoutMs, () => {
      if (this.state === "awaiting" || this.state === "authenticating") {
        this.close(CloseCode.connectTimeout, "no connect in time");
      }
    });
  }

  get closed(): boolean {
    return this.state === "closed";
  }

  /** Close with a code; the hub's shutdown uses 4100. */
  close(code: number, reason: string, options: { terminate?: boolean } = {}): void {
    if (this.state === "closed") return;
    if (code === CloseCode.slowConsumer) this.queue.stop();
    else this.queue.flushAll();
    this.teardown();
    try {
      this.socket.close(code, truncate(reason));
    } catch {
      this.socket.terminate();
    }
    const cut = setTimeout(() => this.socket.terminate(), options.terminate ? 200 : CLOSE_GRACE_MS);
    cut.unref();
  }

  send(text: string): void {
    if (this.state !== "closed") this.queue.send(text);
  }

  // ---- CallServer ----

  serve(request: CallRequest): Promise<CallResult> {
    if (this.state !== "open") {
      return Promise.resolve({ ok: false, error: wireError("no_responder", "the handler is gone") });
    }
    return this.served.serve(request);
  }

  // ---- inbound ----

  private onFrame(data: RawData, isBinary: boolean): void {
    if (this.state === "closed") return;
    this.lastReceived = Date.now();
    if (isBinary) {
      this.close(CloseCode.unsupportedData, "text frames only");
      return;
    }
    const text = data.toString();
    if (this.state === "awaiting") {
      this.onFirstFrame(text);
      return;
    }
    if (this.state === "authenticating") {
      if (this.early.length >= MAX_EARLY_FRAMES) {
        this.close(CloseCode.protocolError, "wait for connected");
        return;
      }
      this.early.push(text);
      return;
    }
    this.handle(text);
  }

  private handle(text: string): void {
    const limited = !this.rate.take();
    let frame: ClientFrame;
    try {
      frame = decodeFrame(text);
    } catch (error) {
      this.rejectFrame(error);
      return;
    }
    if (frame.type === "pong") return;
    if (limited) {
      if (++this.rateStrikes > this.ctx.limits.rateBurst) {
        this.close(CloseCode.rateLimited, "rate limit");
        return;
      }
      this.fail((frame as { rid?: Rid }).rid, wireError("busy", "rate limit: frame dropped", "rate_limited"));
      return;
    }
    this.rateStrikes = 0;
    try {
      this.dispatch(frame);
    } catch (error) {
      this.internal(error, (frame as { rid?: Rid }).rid);
    }
  }

  private rejectFrame(error: unknown): void {
    if (error instanceof FrameError && error.code !== "protocol") {
      const { code, message, rid, field } = error;
      this.fail(rid, field === undefined ? { code, message } : { code, message, field });
      return;
    }
    this.close(CloseCode.protocolError, error instanceof Error ? error.message : "malformed frame");
  }

  private onFirstFrame(text: string): void {
    let frame: ClientFrame;
    try {
      frame = decodeFrame(text);
    } catch (error) {
      // A frame of another (even unknown) type is an attempt to skip connect; garbage is a protocol error.
      if (error instanceof FrameError && error.code === "unsupported") {
        this.close(CloseCode.unauthenticated, "the first frame must be connect");
      } else {
        this.close(CloseCode.protocolError, error instanceof Error ? error.message : "malformed frame");
      }
      return;
    }
    if (frame.type !== "connect") {
      this.close(CloseCode.unauthenticated, "the first frame must be connect");
      return;
    }
    this.state = "authenticating";
    this.connect(frame).catch((error) => {
      this.ctx.onError(error);
      this.close(CloseCode.internalError, "could not complete connect");
    });
  }

  private async connect(frame: ConnectFrame): Promise<void> {
    this.clientId = frame.clientId;
    this.client = frame.client;
    this.queue.batching = frame.batch === true;
    const identity = await this.authenticate(frame.token, undefined);
    if (this.state !== "authenticating") return;
    if (!identity) return this.close(CloseCode.unauthenticated, "authentication failed");
    if (identity.expiresAt !== undefined && identity.expiresAt <= Date.now()) {
      return this.close(CloseCode.tokenExpired, "token expired");
    }
    this.identity = identity;
    const lastSeq = this.clientId === undefined ? 0 : await this.ctx.engine.lastSeq(this.clientId);
    if (this.state !== "authenticating") return;
    this.state = "open";
    const { limits, heartbeat, engine } = this.ctx;
    const connected: ConnectedFrame = {
      type: "connected",
      v: 1,
      session: this.ctx.session,
      lastSeq,
      pingIntervalMs: heartbeat.intervalMs,
      pingGraceMs: heartbeat.graceMs,
      maxFrameBytes: limits.maxFrameBytes,
      rate: { perSecond: limits.ratePerSecond, burst: limits.rateBurst },
      history: engine.history,
      limits: {
        maxSubscriptions: limits.maxSubscriptions,
        maxInFlight: limits.maxInFlight,
        maxCallTimeoutMs: limits.maxCallTimeoutMs,
      },
    };
    if (this.clientId !== undefined) connected.clientId = this.clientId;
    if (identity.userId !== undefined) connected.userId = identity.userId;
    if (identity.expiresAt !== undefined) connected.expiresAt = identity.expiresAt;
    this.frame(connected);
    this.startHeartbeat();
    this.scheduleExpiry();
    const early = this.early;
    this.early = [];
    for (const text of early) if (this.state === "open") this.handle(text);
  }

  /** Runs the hook; a throw or a falsy answer is a refusal. */
  private async authenticate(
    token: string | undefined,
    previous: Identity | undefined,
  ): Promise<Identity | undefined> {
    const hook = this.ctx.authenticate;
    if (!hook) return {};
    try {
      const identity = await hook({
        token,
        clientId: this.clientId,
        client: this.client,
        request: this.request,
        ...(previous ? { previous } : {}),
      });
      return identity || undefined;
    } catch {
      return undefined;
    }
  }

  private dispatch(frame: ClientFrame): void {
    switch (frame.type) {
      case "connect":
        this.close(CloseCode.protocolError, "already connected");
        return;
      case "publish":
        this.publisher.publish(frame);
        return;
      case "subscribe":
        return void this.subs.subscribe(frame).catch((error) => this.internal(error, frame.rid));
      case "unsubscribe":
        this.subs.unsubscribe(frame);
        return;
      case "ack":
        if (frame.tag !== undefined) this.subs.ack(frame.tag);
        if (frame.tags) for (const tag of frame.tags) this.subs.ack(tag);
        return;
      case "nack":
        this.subs.nack(frame.tag, frame.requeue ?? true);
        return;
      case "call":
        return void this.call(frame).catch((error) => this.internal(error, frame.rid));
      case "handle":
        return void this.startHandling(frame).catch((error) => this.internal(error, frame.rid));
      case "unhandle": {
        const key = `${frame.service}\u0000${frame.method}`;
        if (this.handled.delete(key)) this.ctx.handlers.remove(frame.service, frame.method, this);
        this.frame({ type: "unhandled", rid: frame.rid });
        return;
      }
      case "response":
        this.served.respond(frame);
        return;
      case "refresh":
        return void this.refresh(frame).catch((error) => this.internal(error, frame.rid));
      case "ping":
        this.frame({ type: "pong" });
        return;
      default:
        return;
    }
  }

  private async allowed(request: AuthorizeRequest, clientId = this.clientId): Promise<boolean> {
    const hook = this.ctx.authorize;
    if (!hook) return true;
    try {
      return (await hook(this.identity, { ...request, clientId })) === true;
    } catch (error) {
      this.ctx.onError(error);
      return false;
    }
  }

  private async call(frame: CallFrame): Promise<void> {
    const { rid, service, method } = frame;
    const limits = this.ctx.limits;
    if (this.callsWaiting >= limits.maxPendingCalls) {
      return this.fail(
        rid,
        wireError("busy", `at most ${limits.maxPendingCalls} calls waiting`, "too_many_calls"),
      );
    }
    if (!(await this.allowed({ action: "call", service, method }))) {
      return this.fail(rid, wireError("forbidden", `not allowed to call ${service}.${method}`));
    }
    const timeoutMs = Math.min(frame.timeoutMs ?? limits.defaultCallTimeoutMs, limits.maxCallTimeoutMs);
    const { payload, enc, headers } = frame;
    this.callsWaiting++;
    let result: CallResult;
    try {
      result = await this.ctx.engine.call(
        compact({ service, method, payload, enc, headers, timeoutMs }) as CallRequest,
      );
    } finally {
      this.callsWaiting--;
    }
    if (!result.ok) return this.fail(rid, result.error);
    this.frame(
      compact({
        type: "reply",
        rid,
        payload: result.payload,
        enc: result.enc,
        headers: result.headers,
      }) as HubFrame,
    );
  }

  private async startHandling(frame: HandleFrame): Promise<void> {
    const { rid, service, method } = frame;
    if (!(await this.allowed({ action: "handle", service, method }))) {
      return this.fail(rid, wireError("forbidden", `not allowed to handle ${service}.${method}`));
    }
    const key = `${service}\u0000${method}`;
    if (!this.handled.has(key)) {
      this.handled.set(key, { service, method });
      try {
        await this.ctx.handlers.add(service, method, this);
      } catch (error) {
        this.handled.delete(key);
        this.ctx.onError(error);
        return this.fail(
          rid,
          wireError("busy", "the hub could not register the handler; try again", "engine"),
        );
      }
      if (this.state === "closed") return this.ctx.handlers.remove(service, method, this);
    }
    this.frame({ type: "handling", rid });
  }

  private async refresh(frame: RefreshFrame): Promise<void> {
    const previous = this.identity;
    const identity = await this.authenticate(frame.token, previous);
    if (this.state !== "open") return;
    if (!identity) return this.fail(frame.rid, wireError("unauthenticated", "refresh refused"));
    if (identity.userId !== previous.userId) {
      return this.fail(frame.rid, wireError("forbidden", "a refresh must not change the user"));
    }
    if (identity.expiresAt !== undefined && identity.expiresAt <= Date.now()) {
      return this.fail(frame.rid, wireError("unauthenticated", "the new token has expired"));
    }
    this.identity = identity;
    this.scheduleExpiry();
    this.frame(compact({ type: "refreshed", rid: frame.rid, expiresAt: identity.expiresAt }) as HubFrame);
  }

  // ---- timers ----

  private startHeartbeat(): void {
    const { intervalMs, graceMs } = this.ctx.heartbeat;
    this.pingTimer = setInterval(() => {
      const sentAt = Date.now();
      this.frame({ type: "ping" });
      this.after(graceMs, () => {
        if (this.lastReceived < sentAt) {
          this.close(CloseCode.heartbeatTimeout, "no answer to ping", { terminate: true });
        }
      });
    }, intervalMs);
  }

  private scheduleExpiry(): void {
    if (this.expiryTimer) {
      clearTimeout(this.expiryTimer);
      this.timers.delete(this.expiryTimer);
      this.expiryTimer = undefined;
    }
    const expiresAt = this.identity.expiresAt;
    if (expiresAt === undefined) return;
    const check = () => {
      const left = expiresAt - Date.now();
      if (left <= 0) return this.close(CloseCode.tokenExpired, "token expired");
      this.expiryTimer = this.after(Math.min(left, MAX_TIMER_MS), check);
    };
    check();
  }

  private after(ms: number, run: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  // ---- outbound ----

  private frame(frame: HubFrame): void {
    this.send(JSON.stringify(frame));
  }

  private fail(rid: Rid | undefined, error: WireError): void {
    this.frame(rid === undefined ? { type: "error", ...error } : { type: "error", rid, ...error });
  }

  private internal(error: unknown, rid: Rid | undefined): void {
    this.ctx.onError(error);
    this.fail(rid, wireError("busy", "internal error; try again", "internal"));
  }

  /** Releases everything the connection holds, once. */
  private teardown(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.early = [];
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.subs.closeAll();
    for (const { service, method } of this.handled.values()) this.ctx.handlers.remove(service, method, this);
    this.handled.clear();
    this.served.failAll();
    this.ctx.onClosed(this);
  }
}

/** The object without its undefined fields (JSON would drop them too; this keeps frames small in memory). */
function compact<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key];
  return value;
}

function truncate(reason: string): string {
  // A close reason is at most 123 bytes of UTF-8.
  let out = reason;
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}
