/**
 * Calls a handler connection is serving: each `request` sent to it waits for its `response`,
 * the deadline, or the connection's end, whichever comes first.
 */
import { type CallRequest, type CallResult, wireError } from "./engine.js";
import type { HubFrame, ResponseFrame, WireError } from "./protocol.js";

export class ServedCalls {
  private readonly waiting = new Map<
    string,
    { resolve: (result: CallResult) => void; timer: NodeJS.Timeout }
  >();
  private next = 1;

  constructor(
    private readonly maxWaiting: number,
    private readonly send: (frame: HubFrame) => void,
  ) {}

  serve(request: CallRequest): Promise<CallResult> {
    if (this.waiting.size >= this.maxWaiting) {
      return Promise.resolve({
        ok: false,
        error: wireError("busy", "the handler has too many calls waiting"),
      });
    }
    const req = String(this.next++);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(req);
        resolve({ ok: false, error: wireError("timeout", `no response within ${request.timeoutMs} ms`) });
      }, request.timeoutMs);
      this.waiting.set(req, { resolve, timer });
      const frame: HubFrame & { type: "request" } = {
        type: "request",
        req,
        service: request.service,
        method: request.method,
        timeoutMs: request.timeoutMs,
      };
      if (request.payload !== undefined) frame.payload = request.payload;
      if (request.enc !== undefined) frame.enc = request.enc;
      if (request.headers !== undefined) frame.headers = { ...request.headers };
      this.send(frame);
    });
  }

  /** A handler's answer; one for an unknown or expired `req` changes nothing. */
  respond(frame: ResponseFrame): void {
    const waiting = this.waiting.get(frame.req);
    if (!waiting) return;
    this.waiting.delete(frame.req);
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
    const result: CallResult & { ok: true } = { ok: true };
    if (frame.payload !== undefined) result.payload = frame.payload;
    if (frame.enc !== undefined) result.enc = frame.enc;
    if (frame.headers !== undefined) (result as { headers?: Record<string, string> }).headers = frame.headers;
    waiting.resolve(result);
  }

  /** The handler is gone: every call it held fails. */
  failAll(): void {
    for (const { resolve, timer } of this.waiting.values()) {
      clearTimeout(timer);
      resolve({
        ok: false,
        error: wireError("remote", "the handler disconnected before responding", "handler_disconnected"),
      });
    }
    this.waiting.clear();
  }
}
