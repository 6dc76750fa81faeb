/**
 * The embedded engine: everything in this process's memory. One engine may serve several hubs
 * in the same process (they then share fan-out, queue groups, calls, history and high-water
 * marks exactly as hubs on NATS do); history and high-water marks die with the process.
 */
import {
  type CallRequest,
  type CallResult,
  callKey,
  DEFAULT_HISTORY,
  type EngineHost,
  type EngineMessage,
  type EngineSession,
  type HistoryLimits,
  type HubEngine,
  type Interest,
  interestKey,
  type PublishIdentity,
  type PublishOutcome,
  type StoredMessage,
  wireError,
} from "./engine.js";
import { MemoryHistory } from "./memory-history.js";
import type { StreamPosition } from "./protocol.js";
import { TopicIndex } from "./topic-index.js";

export interface MemoryEngineOptions {
  history?: HistoryLimits;
  /** Topic streams kept at most (least recently used evicted). Default 100,000. */
  maxStreams?: number;
  /** How long a client's exactly-once high-water mark is kept after its last publish. Default 24 h. */
  highWaterTtlMs?: number;
}

export interface MemoryEngine extends HubEngine {
  /** Drop all kept history, as a restarted hub would (new epochs everywhere). */
  forgetHistory(): void;
}

interface Member {
  readonly host: EngineHost;
  readonly interests: TopicIndex<Interest>;
  readonly keys: Map<string, Interest>;
  readonly handlers: Set<string>;
}

export function memoryEngine(options: MemoryEngineOptions = {}): MemoryEngine {
  const history = {
    maxMessages: options.history?.maxMessages ?? DEFAULT_HISTORY.maxMessages,
    maxAgeMs: options.history?.maxAgeMs ?? DEFAULT_HISTORY.maxAgeMs,
  };
  const streams = new MemoryHistory(history, options.maxStreams ?? 100_000);
  const highWater = new HighWaterMarks(options.highWaterTtlMs ?? 24 * 3600_000);
  const members = new Set<Member>();
  const turns = new Map<string, number>();

  /** Round robin over candidates, per key. */
  const pick = <T>(key: string, candidates: readonly T[]): T | undefined => {
    if (candidates.length === 0) return undefined;
    const turn = turns.get(key) ?? 0;
    turns.set(key, turn + 1);
    return candidates[turn % candidates.length];
  };

  const fanOut = (message: StoredMessage): void => {
    const queued = new Map<string, { interest: Interest; hosts: EngineHost[] }>();
    for (const member of members) {
      member.interests.match(message.topic, (interest) => {
        if (interest.queue === undefined) return member.host.deliver(interest, message, false);
        const key = interestKey(interest);
        const entry = queued.get(key) ?? { interest, hosts: [] };
        entry.hosts.push(member.host);
        queued.set(key, entry);
      });
    }
    for (const [key, { interest, hosts }] of queued) pick(key, hosts)?.deliver(interest, message, false);
  };

  const session = (member: Member): EngineSession => ({
    history,
    async publish(message: EngineMessage, identity?: PublishIdentity): Promise<PublishOutcome> {
      if (identity && highWater.get(identity.clientId) >= identity.seq) return { duplicate: true };
      const stored = streams.append(message);
      if (identity) highWater.set(identity.clientId, identity.seq);
      fanOut(stored);
      return { epoch: stored.epoch, offset: stored.offset, duplicate: false };
    },
    async lastSeq(clientId: string): Promise<number> {
      return highWater.get(clientId);
    },
    async addInterest(interest: Interest): Promise<void> {
      const key = interestKey(interest);
      if (member.keys.has(key)) return;
      member.keys.set(key, interest);
      member.interests.add(interest.pattern, interest);
    },
    async removeInterest(interest: Interest): Promise<void> {
      const key = interestKey(interest);
      const known = member.keys.get(key);
      if (!known) return;
      member.keys.delete(key);
      member.interests.delete(interest.pattern, known);
    },
    async requeue(interest: Interest, message: StoredMessage): Promise<boolean> {
      const key = interestKey(interest);
      for (const other of members) {
        if (other !== member && other.keys.has(key) && other.host.takeRequeued(interest, message))
          return true;
      }
      return false;
    },
    async position(topic: string): Promise<StreamPosition> {
      return streams.position(topic);
    },
    async recover(topic: string, since: StreamPosition) {
      return streams.recover(topic, since);
    },
    async addHandler(service: string, method: string): Promise<void> {
      member.handlers.add(callKey(service, method));
    },
    async removeHandler(service: string, method: string): Promise<void> {
      member.handlers.delete(callKey(service, method));
    },
    call(request: CallRequest): Promise<CallResult> {
      const key = callKey(request.service, request.method);
      const candidates = [...members].filter(
        (m) => m.handlers.has(key) && m.host.handles(request.service, request.method),
      );
      const chosen = pick(`call\u0000${key}`, candidates);
      if (!chosen) {
        const error = wireError("no_responder", `no handler for ${request.service}.${request.method}`);
        return Promise.resolve({ ok: false, error });
      }
      return withTimeout(chosen.host.serveCall(request), request.timeoutMs);
    },
    async close(): Promise<void> {
      members.delete(member);
    },
  });

  return {
    async attach(host: EngineHost): Promise<EngineSession> {
      const member: Member = { host, interests: new TopicIndex(), keys: new Map(), handlers: new Set() };
      members.add(member);
      return session(member);
    },
    forgetHistory: () => streams.clear(),
  };
}

function withTimeout(result: Promise<CallResult>, timeoutMs: number): Promise<CallResult> {
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => resolve({ ok: false, error: wireError("timeout", `no reply within ${timeoutMs} ms`) }),
      timeoutMs,
    );
    result.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        resolve({ ok: false, error: wireError("remote", String(error)) });
      },
    );
  });
}

/** Per-client high-water marks, each forgotten `ttlMs` after its last update. */
class HighWaterMarks {
  private readonly marks = new Map<string, { seq: number; at: number }>();
  private lastSweep = Date.now();

  constructor(private readonly ttlMs: number) {}

  get(clientId: string): number {
    const mark = this.marks.get(clientId);
    return mark && Date.now() - mark.at <= this.ttlMs ? mark.seq : 0;
  }

  set(clientId: string, seq: number): void {
    const now = Date.now();
    this.marks.set(clientId, { seq: Math.max(seq, this.get(clientId)), at: now });
    if (now - this.lastSweep > this.ttlMs) {
      this.lastSweep = now;
      for (const [id, mark] of this.marks) if (now - mark.at > this.ttlMs) this.marks.delete(id);
    }
  }
}
