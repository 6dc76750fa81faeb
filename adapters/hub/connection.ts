/**
 * One client connection: the connect/authenticate handshake, frame dispatch, heartbeats,
 * credential expiry and in-band refresh, the per-connection rate limit and send queue, and
 * tearing everything down once, whichever side closes. Nothing a client sends can throw out of
 * here: every failure becomes an `error` frame or a close code.
 */
import type { IncomingMessage } from "node:http";
import type { RawData, WebSocket } from "ws";
import type { CallRequest, CallResult, EngineMessage, EngineSession } from "./engine.js";
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
  PublishFrame,
  RefreshFrame,
  ResponseFrame,
  SubscribeFrame,
  WireError,
} from "./protocol.js";
import { CloseCode } from "./protocol.js";
import type { Router } from "./router.js";
import { RateLimiter, SendQueue } from "./send-queue.js";
import { Subscription, type SubscriptionOwner } from "./subscription.js";

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

export class Connection implements SubscriptionOwner, CallServer {
  private state: "awaiting" | "authenticating" | "open" | "closed" = "awaiting";
  private identity: Identity = {};
  private clientId: string | undefined;
  private client: ConnectFrame["client"];
  private early: string[] = [];
  private readonly subs = new Map<string, Subscription>();
  private readonly tags = new Map<number, Subscription>();
  private nextTag = 1;
  private readonly handled = new Map<string, { service: string; method: string }>();
  private readonly served = new Map<
    string,
    { resolve: (result: CallResult) => void; timer: NodeJS.Timeout }
  >();
  private nextRequest = 1;
  private callsWaiting = 0;
  private publishing: Promise<void> = Promise.resolve();
  /** An exactly-once publish failed: later seqs wait until this one is sent again. */
  private blockedSeq: number | undefined;
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
    this.queue = new SendQueue(socket, limits, () => this.close(CloseCode.slowConsumer, "slow consumer"));
    this.rate = new RateLimiter(limits.ratePerSecond, limits.rateBurst);
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

  // ---- SubscriptionOwner ----

  send(text: string): void {
    if (this.state !== "closed") this.queue.send(text);
  }

  tag(sub: Subscription): number {
    const tag = this.nextTag++;
    this.tags.set(tag, sub);
    return tag;
  }

  untag(tag: number): void {
    this.tags.delete(tag);
  }

  slow(): void {
    this.close(CloseCode.slowConsumer, "slow consumer");
  }

  ended(sub: Subscription, message: string): void {
    if (this.subs.get(sub.id) !== sub) return;
    this.subs.delete(sub.id);
    this.ctx.router.leave(sub);
    this.frame({
      type: "unsubscribed",
      sub: sub.id,
      error: wireError("disconnected", message, "gap"),
    } as never);
  }

  // ---- CallServer ----

  serve(request: CallRequest): Promise<CallResult> {
    if (this.state !== "open") {
      return Promise.resolve({ ok: false, error: wireError("no_responder", "the handler is gone") });
    }
    if (this.served.size >= this.ctx.limits.maxPendingCalls) {
      return Promise.resolve({
        ok: false,
        error: wireError("busy", "the handler has too many calls waiting"),
      });
    }
    const req = String(this.nextRequest++);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.served.delete(req);
        resolve({ ok: false, error: wireError("timeout", `no response within ${request.timeoutMs} ms`) });
      }, request.timeoutMs);
      this.served.set(req, { resolve, timer });
      const { service, method, payload, enc, headers, timeoutMs } = request;
      this.frame(compact({ type: "request", req, service, method, payload, enc, headers, timeoutMs }));
    });
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
        this.publishing = this.publishing.then(() => this.publish(frame));
        return;
      case "subscribe":
        return void this.subscribe(frame).catch((error) => this.internal(error, frame.rid));
      case "unsubscribe": {
        const sub = this.subs.get(frame.sub);
        if (sub) {
          this.subs.delete(frame.sub);
          this.ctx.router.leave(sub);
        }
        this.frame({ type: "unsubscribed", rid: frame.rid, sub: frame.sub });
        return;
      }
      case "ack":
        this.tags.get(frame.tag)?.ack(frame.tag);
        return;
      case "nack":
        this.tags.get(frame.tag)?.nack(frame.tag, frame.requeue ?? true);
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
        this.response(frame);
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

  private async allowed(request: AuthorizeRequest): Promise<boolean> {
    const hook = this.ctx.authorize;
    if (!hook) return true;
    try {
      return (await hook(this.identity, { ...request, clientId: this.clientId })) === true;
    } catch (error) {
      this.ctx.onError(error);
      return false;
    }
  }

  private async publish(frame: PublishFrame): Promise<void> {
    if (this.state !== "open") return;
    const { rid, seq } = frame;
    try {
      if (seq !== undefined) {
        if (this.clientId === undefined) {
          return this.failPublish(rid, {
            ...wireError("invalid_argument", "seq: needs a clientId in connect"),
            field: "seq",
          });
        }
        if (this.blockedSeq !== undefined && seq > this.blockedSeq) {
          return this.failPublish(
            rid,
            wireError("busy", `send seq ${this.blockedSeq} again first`, "out_of_order"),
          );
        }
        if (seq === this.blockedSeq) this.blockedSeq = undefined;
      }
      if (!(await this.allowed({ action: "publish", topic: frame.topic }))) {
        return this.failPublish(rid, wireError("forbidden", `not allowed to publish to ${frame.topic}`));
      }
      const { topic, payload, enc, id, headers, replyTo, correlationId } = frame;
      const message = compact({ topic, payload, enc, id, headers, replyTo, correlationId }) as EngineMessage;
      let outcome: Awaited<ReturnType<EngineSession["publish"]>>;
      try {
        const identity = seq === undefined ? undefined : { clientId: this.clientId!, seq };
        outcome = await this.ctx.engine.publish(message, identity);
      } catch (error) {
        if (seq !== undefined) this.blockedSeq = seq;
        this.ctx.onError(error);
        return this.fail(
          rid,
          wireError("busy", "the hub could not store the message; send it again", "engine"),
        );
      }
      if (frame.qos === 0 || rid === undefined) return;
      const { epoch, offset, duplicate } = outcome;
      this.frame(
        compact({ type: "puback", rid, epoch, offset, duplicate: duplicate || undefined }) as HubFrame,
      );
    } catch (error) {
      this.ctx.onError(error);
      this.failPublish(rid, wireError("busy", "internal error; try again", "internal"));
    }
  }

  private async subscribe(frame: SubscribeFrame): Promise<void> {
    const { rid, limits } = { rid: frame.rid, limits: this.ctx.limits };
    if (this.subs.has(frame.sub)) {
      return this.fail(rid, {
        ...wireError("invalid_argument", `sub: "${frame.sub}" is in use`),
        field: "sub",
      });
    }
    if (this.subs.size >= limits.maxSubscriptions) {
      return this.fail(
        rid,
        wireError("busy", `at most ${limits.maxSubscriptions} subscriptions`, "too_many_subscriptions"),
      );
    }
    const manual = frame.ack === "manual";
    const maxInFlight = Math.min(frame.maxInFlight ?? limits.maxInFlight, limits.maxInFlight);
    const sub = new Subscription(
      frame.sub,
      frame.pattern,
      frame.queue,
      manual,
      maxInFlight,
      limits.maxPendingMessages,
      this,
      this.ctx.router,
    );
    if (frame.recover !== undefined && sub.topic === undefined) {
      const message = "recover: only for a subscription to one topic without a queue";
      return this.fail(rid, { ...wireError("unsupported", message), field: "recover" });
    }
    this.subs.set(frame.sub, sub);
    const pattern = frame.pattern;
    const request: AuthorizeRequest =
      frame.queue === undefined
        ? { action: "subscribe", pattern }
        : { action: "subscribe", pattern, queue: frame.queue };
    if (!(await this.allowed(request))) {
      this.forgetSub(sub);
      return this.fail(rid, wireError("forbidden", `not allowed to subscribe to ${pattern}`));
    }
    try {
      await this.ctx.router.join(sub);
      if (sub.closed) return;
      if (sub.topic === undefined) {
        this.frame({ type: "subscribed", rid, sub: sub.id });
        return sub.start(undefined, []);
      }
      const engine = this.ctx.engine;
      const recovery = frame.recover
        ? await engine.recover(sub.topic, frame.recover)
        : { recovered: undefined, messages: [], position: await engine.position(sub.topic) };
      if (sub.closed) return;
      const { epoch, offset } = recovery.position;
      this.frame(
        compact({
          type: "subscribed",
          rid,
          sub: sub.id,
          recovered: recovery.recovered,
          epoch,
          offset,
        }) as HubFrame,
      );
      sub.start(recovery.position, recovery.recovered ? recovery.messages : []);
    } catch (error) {
      this.forgetSub(sub);
      this.ctx.onError(error);
      this.fail(rid, wireError("busy", "the hub could not subscribe; try again", "engine"));
    }
  }

  private forgetSub(sub: Subscription): void {
    if (this.subs.get(sub.id) === sub) this.subs.delete(sub.id);
    this.ctx.router.leave(sub);
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

  private response(frame: ResponseFrame): void {
    const waiting = this.served.get(frame.req);
    if (!waiting) return; // late (timed out) or unknown: nothing waits for it
    this.served.delete(frame.req);
    clearTimeout(waiting.timer);
    if (frame.error) {
      const { message, reason, code, details } = frame.error;
      const error: WireError = {
        code: "remote",
        message: typeof message === "string" ? message : "handler failed",
      };
      const why = typeof reason === "string" ? reason : typeof code === "string" ? code : undefined;
      if (why !== undefined) error.reason = why;
      if (details !== undefined) error.details = details;
      waiting.resolve({ ok: false, error });
      return;
    }
    const { payload, enc, headers } = frame;
    waiting.resolve(compact({ ok: true, payload, enc, headers }) as CallResult);
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

  /** A QoS 0 publish without rid has nowhere to report to. */
  private failPublish(rid: Rid | undefined, error: WireError): void {
    if (rid !== undefined) this.fail(rid, error);
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
    for (const sub of this.subs.values()) this.ctx.router.leave(sub);
    this.subs.clear();
    this.tags.clear();
    for (const { service, method } of this.handled.values()) this.ctx.handlers.remove(service, method, this);
    this.handled.clear();
    for (const { resolve, timer } of this.served.values()) {
      clearTimeout(timer);
      resolve({
        ok: false,
        error: wireError("remote", "the handler disconnected before responding", "handler_disconnected"),
      });
    }
    this.served.clear();
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
