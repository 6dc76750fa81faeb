/**
 * The NATS engine: hubs in any number of processes share routing, history and high-water marks
 * through an existing NATS deployment with JetStream; no state lives in a hub.
 *
 * - History: one JetStream stream (`<prefix>_history`, subjects `<prefix>.h.>`, per-topic count
 *   limit and max age) — see `nats-history.ts`.
 * - Fan-out: the stream republishes every stored message, in stream order, to `<prefix>.m.<topic>`;
 *   each hub subscribes there with plain NATS subscriptions for its clients' patterns, and with a
 *   NATS queue group for each gmq queue group, so NATS load-balances between hubs.
 * - Requeued queue messages: a request on `<prefix>.rq.<queue>.<digest>` to the group's hubs.
 * - Calls: requests on `<prefix>.c.<service>.<method>`, queue group `handlers`; NATS reports
 *   no responders, the request times out at the call's deadline.
 * - Exactly-once: JetStream's `Nats-Msg-Id` (`clientId:seq`, within the duplicate window) makes
 *   the append idempotent, and a KV bucket (`<prefix>-hwm`) keeps each client's high-water mark.
 *
 * Uses the maintained NATS client for JavaScript (`@nats-io/transport-node`, `@nats-io/jetstream`,
 * `@nats-io/kv`, v3); they are optional peer dependencies, loaded only when this engine attaches.
 */
import type { Msg, NatsConnection, Subscription as NatsSubscription } from "@nats-io/transport-node";
import {
  type CallRequest,
  type CallResult,
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
import { decodeBody, encodeBody, NatsHistory } from "./nats-history.js";
import { digest, kvKey, patternSubjects, token, topicSubject } from "./nats-subjects.js";

export interface NatsEngineOptions {
  /** NATS server URL(s). Each hub that attaches opens its own connection. */
  servers?: string | string[];
  /** Or use this connection (not closed by the engine). */
  connection?: NatsConnection;
  /** Subject, stream and bucket prefix, `[A-Za-z0-9_-]+`. Default `gmq`. */
  prefix?: string;
  /** Applied when the engine creates the stream; an existing stream keeps its own limits. */
  history?: HistoryLimits;
  /** Window in which JetStream drops a repeated `(clientId, seq)` by itself. Default 2 min. */
  duplicateWindowMs?: number;
  /** How long a client's high-water mark is kept after its last publish. Default 24 h. */
  highWaterTtlMs?: number;
  /** JetStream replicas for the stream and bucket. Default 1. */
  replicas?: number;
}

const CAS_TRIES = 20;

export function natsEngine(options: NatsEngineOptions = {}): HubEngine {
  const prefix = options.prefix ?? "gmq";
  if (!/^[A-Za-z0-9_-]+$/.test(prefix))
    throw new TypeError(`prefix: must be [A-Za-z0-9_-]+, got "${prefix}"`);
  if (!options.connection && options.servers === undefined) {
    throw new TypeError("natsEngine: give servers or a connection");
  }
  const history = {
    maxMessages: options.history?.maxMessages ?? DEFAULT_HISTORY.maxMessages,
    maxAgeMs: options.history?.maxAgeMs ?? DEFAULT_HISTORY.maxAgeMs,
  };
  return { attach: (host) => attach(host, options, prefix, history) };
}

async function attach(
  host: EngineHost,
  options: NatsEngineOptions,
  prefix: string,
  history: Required<HistoryLimits>,
): Promise<EngineSession> {
  const [{ connect }, { jetstream, jetstreamManager, RetentionPolicy, StorageType, DiscardPolicy }, { Kvm }] =
    await Promise.all([
      import("@nats-io/transport-node"),
      import("@nats-io/jetstream"),
      import("@nats-io/kv"),
    ]);
  const nc = options.connection ?? (await connect({ servers: options.servers!, name: `gmq-hub-${prefix}` }));
  const ownConnection = !options.connection;
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const stream = `${prefix}_history`;
  const nanos = (ms: number) => ms * 1_000_000;

  const streamInfo = async () => {
    try {
      return await jsm.streams.info(stream);
    } catch {
      try {
        return await jsm.streams.add({
          name: stream,
          subjects: [`${prefix}.h.>`],
          retention: RetentionPolicy.Limits,
          storage: StorageType.File,
          discard: DiscardPolicy.Old,
          max_msgs_per_subject: history.maxMessages,
          max_age: nanos(history.maxAgeMs),
          duplicate_window: nanos(Math.min(options.duplicateWindowMs ?? 120_000, history.maxAgeMs)),
          num_replicas: options.replicas ?? 1,
          republish: { src: `${prefix}.h.>`, dest: `${prefix}.m.>` },
          allow_direct: true,
        });
      } catch {
        return await jsm.streams.info(stream); // another hub made it meanwhile
      }
    }
  };
  const info = await streamInfo();
  const epoch = info.created.replace(/\D/g, "");
  const kept = {
    maxMessages:
      info.config.max_msgs_per_subject > 0 ? info.config.max_msgs_per_subject : history.maxMessages,
    maxAgeMs: info.config.max_age > 0 ? Math.floor(info.config.max_age / 1_000_000) : history.maxAgeMs,
  };
  const store = new NatsHistory(js, jsm, stream, epoch, kept.maxMessages);
  const kv = await new Kvm(nc).create(`${prefix}-hwm`, {
    history: 1,
    ttl: options.highWaterTtlMs ?? 24 * 3600_000,
    replicas: options.replicas ?? 1,
  });

  const interests = new Map<string, NatsSubscription[]>();
  const handlers = new Map<string, NatsSubscription>();
  const callSubject = (service: string, method: string) => `${prefix}.c.${token(service)}.${token(method)}`;
  const requeueSubject = (interest: Interest) =>
    `${prefix}.rq.${token(interest.queue ?? "")}.${digest(interest.pattern)}`;

  const readLive = (interest: Interest) => (error: Error | null, msg: Msg) => {
    if (error) return;
    try {
      const offset = Number(msg.headers?.get("Nats-Sequence"));
      host.deliver(interest, decodeBody(msg.string(), epoch, offset), false);
    } catch {
      // Not a hub message (someone else published on our subjects): nothing to deliver.
    }
  };

  const highWater = async (clientId: string) => {
    const entry = await kv.get(kvKey(clientId));
    const seq = entry && entry.operation === "PUT" ? Number(entry.string()) : 0;
    return { seq: Number.isSafeInteger(seq) ? seq : 0, revision: entry?.revision };
  };

  const raiseHighWater = async (clientId: string, seq: number) => {
    for (let attempt = 0; attempt < CAS_TRIES; attempt++) {
      const current = await highWater(clientId);
      if (current.seq >= seq) return;
      try {
        if (current.revision === undefined) await kv.create(kvKey(clientId), String(seq));
        else await kv.update(kvKey(clientId), String(seq), current.revision);
        return;
      } catch {
        // Changed under us (another hub, or a TTL delete): read and try again.
      }
    }
    throw new Error(`could not record seq ${seq} for ${clientId}`);
  };

  return {
    history: kept,

    async publish(message: EngineMessage, identity?: PublishIdentity): Promise<PublishOutcome> {
      if (identity && (await highWater(identity.clientId)).seq >= identity.seq) return { duplicate: true };
      const msgID = identity ? `${identity.clientId}:${identity.seq}` : undefined;
      const ack = await store.append(topicSubject(prefix, "h", message.topic), message, msgID);
      if (identity) await raiseHighWater(identity.clientId, identity.seq);
      return { epoch, offset: ack.seq, duplicate: ack.duplicate };
    },

    async lastSeq(clientId: string): Promise<number> {
      return (await highWater(clientId)).seq;
    },

    async addInterest(interest: Interest): Promise<void> {
      const key = interestKey(interest);
      if (interests.has(key)) return;
      const queue = interest.queue === undefined ? {} : { queue: token(interest.queue) };
      const subs = patternSubjects(prefix, "m", interest.pattern).map((subject) =>
        nc.subscribe(subject, { ...queue, callback: readLive(interest) }),
      );
      if (interest.queue !== undefined) {
        subs.push(
          nc.subscribe(requeueSubject(interest), {
            ...queue,
            callback: (error, msg) => {
              if (error) return;
              let taken = false;
              try {
                const offset = Number(msg.headers?.get("Gmq-Offset"));
                taken = host.takeRequeued(interest, decodeBody(msg.string(), epoch, offset));
              } catch {
                taken = false;
              }
              msg.respond(taken ? "1" : "0");
            },
          }),
        );
      }
      interests.set(key, subs);
      // Deliveries are certain only once the server has the subscriptions.
      await nc.flush();
    },

    async removeInterest(interest: Interest): Promise<void> {
      const key = interestKey(interest);
      for (const sub of interests.get(key) ?? []) sub.unsubscribe();
      interests.delete(key);
    },

    async requeue(interest: Interest, message: StoredMessage): Promise<boolean> {
      const { headers } = await import("@nats-io/transport-node");
      const h = headers();
      h.set("Gmq-Offset", String(message.offset));
      // A hub whose members just left answers "0"; NATS may pick another one next time.
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          const reply = await nc.request(requeueSubject(interest), encodeBody(message, message.prev), {
            timeout: 2_000,
            headers: h,
          });
          if (reply.string() === "1") return true;
        } catch {
          return false; // no responders: no hub has a member
        }
      }
      return false;
    },

    position: (topic: string) => store.position(topicSubject(prefix, "h", topic)),

    recover: (topic, since) => store.recover(topicSubject(prefix, "h", topic), since),

    async addHandler(service: string, method: string): Promise<void> {
      const subject = callSubject(service, method);
      if (handlers.has(subject)) return;
      const sub = nc.subscribe(subject, {
        queue: "handlers",
        callback: (error, msg) => {
          if (error) return;
          let request: CallRequest;
          try {
            request = JSON.parse(msg.string()) as CallRequest;
          } catch {
            return;
          }
          host.serveCall(request).then(
            (result) => msg.respond(JSON.stringify(result)),
            (failure) =>
              msg.respond(JSON.stringify({ ok: false, error: wireError("remote", String(failure)) })),
          );
        },
      });
      handlers.set(subject, sub);
      await nc.flush();
    },

    async removeHandler(service: string, method: string): Promise<void> {
      const subject = callSubject(service, method);
      handlers.get(subject)?.unsubscribe();
      handlers.delete(subject);
    },

    async call(request: CallRequest): Promise<CallResult> {
      try {
        const reply = await nc.request(
          callSubject(request.service, request.method),
          JSON.stringify(request),
          {
            timeout: request.timeoutMs,
          },
        );
        return JSON.parse(reply.string()) as CallResult;
      } catch (error) {
        const name = (error as Error).name;
        const noResponders =
          (error as { isNoResponders?: () => boolean }).isNoResponders?.() === true ||
          name === "NoRespondersError";
        if (noResponders) {
          return {
            ok: false,
            error: wireError("no_responder", `no handler for ${request.service}.${request.method}`),
          };
        }
        if (name === "TimeoutError" || (error as Error).cause instanceof Error) {
          return { ok: false, error: wireError("timeout", `no reply within ${request.timeoutMs} ms`) };
        }
        return { ok: false, error: wireError("remote", String(error)) };
      }
    },

    async close(): Promise<void> {
      for (const subs of interests.values()) for (const sub of subs) sub.unsubscribe();
      for (const sub of handlers.values()) sub.unsubscribe();
      interests.clear();
      handlers.clear();
      if (ownConnection) await nc.close();
    },
  };
}
