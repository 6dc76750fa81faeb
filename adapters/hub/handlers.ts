/**
 * The hub's local call handlers: which connections `handle` a method, round robin between them,
 * and registering with the engine while at least one local handler exists.
 */
import { type CallRequest, type CallResult, callKey, type EngineSession, wireError } from "./engine.js";

/** A connection that serves calls. */
export interface CallServer {
  readonly closed: boolean;
  serve(request: CallRequest): Promise<CallResult>;
}

interface Method {
  readonly servers: CallServer[];
  turn: number;
  registered: Promise<void>;
}

export class Handlers {
  private readonly methods = new Map<string, Method>();

  constructor(
    private readonly engine: () => EngineSession,
    private readonly onError: (error: unknown) => void,
  ) {}

  async add(service: string, method: string, server: CallServer): Promise<void> {
    const key = callKey(service, method);
    let entry = this.methods.get(key);
    if (!entry) {
      entry = { servers: [], turn: 0, registered: this.engine().addHandler(service, method) };
      this.methods.set(key, entry);
    }
    if (!entry.servers.includes(server)) entry.servers.push(server);
    try {
      await entry.registered;
    } catch (error) {
      this.remove(service, method, server);
      throw error;
    }
  }

  remove(service: string, method: string, server: CallServer): void {
    const key = callKey(service, method);
    const entry = this.methods.get(key);
    if (!entry) return;
    const index = entry.servers.indexOf(server);
    if (index >= 0) entry.servers.splice(index, 1);
    if (entry.servers.length === 0) {
      this.methods.delete(key);
      this.engine()
        .removeHandler(service, method)
        .catch((error) => this.onError(error));
    }
  }

  has(service: string, method: string): boolean {
    return (this.methods.get(callKey(service, method))?.servers.length ?? 0) > 0;
  }

  serve(request: CallRequest): Promise<CallResult> {
    const entry = this.methods.get(callKey(request.service, request.method));
    const live = entry?.servers.filter((s) => !s.closed) ?? [];
    if (!entry || live.length === 0) {
      const error = wireError("no_responder", `no handler for ${request.service}.${request.method}`);
      return Promise.resolve({ ok: false, error });
    }
    return live[entry.turn++ % live.length]!.serve(request);
  }
}
