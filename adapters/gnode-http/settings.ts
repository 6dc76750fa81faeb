/** The options both gnode adapters share, their defaults and their checks. */
import { GmqError, type OutboundMessage } from "gmq";
import type { TopicSettings } from "./cluster.js";
import { checkName, delaySeconds, type Routing, routeKeyFor, tooLarge } from "./names.js";

export interface GnodeTopicOptions {
  /** `exact` (default): a route key names one bind key. `regex`: it is an RE2 pattern searched in
   *  every bind key, and the message is copied to each match (fan-out, e.g. `^orders\.`). */
  routing?: Routing;
  /** Bind keys to declare on every node before the first publish (consumers declare their own). */
  queues?: readonly string[];
  /** Seconds a manually acked delivery may stay unacked, 1–60. The node only lowers it (default
   *  30 there) and forgets it on restart; the adapter sets it again after every reconnect. */
  msgTTR?: number;
  /** Redeliveries before the dead-letter queue, ≥ 1; lowered only (node default 5). */
  msgRetry?: number;
}

export interface GnodeCommonOptions {
  /** Per topic (as the app names it). Topics not listed use `routing` and the node's defaults. */
  topics?: Readonly<Record<string, GnodeTopicOptions>>;
  /** Default routing of topics not listed in `topics`. Default `exact`. */
  routing?: Routing;
  /** Largest body (the envelope around the payload) in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Send `/` in topics and bind keys as `.` (gnode names cannot hold `/`), so `chat/room1` can be
   *  used as a topic. Default false: such names are refused. */
  slashAsDot?: boolean;
  /** A node that failed is skipped by publishes, and its consumers retry it, after up to this
   *  long. Default 5000 ms. */
  nodeRetryMs?: number;
  /** For tests: the random source of the weighted node choice. Default `Math.random`. */
  random?: () => number;
}

export interface Common {
  readonly maxBodyBytes: number;
  readonly slashAsDot: boolean;
  readonly retryMs: number;
  readonly random: () => number;
  /** Settings of a topic by its wire name. */
  settings(topic: string): TopicSettings;
  /** Bind keys to declare on a topic (wire names): configured ones plus those used since. */
  queues(topic: string): Set<string>;
}

/**
 * What a node would refuse in a queue message, checked before it is queued (the transport's
 * `checkPublish`): its topic, route key and delay, and a payload that alone is over the body limit
 * (the exact size, envelope included, is checked when it is sent).
 */
export function checkQueueMessage(common: Common, message: OutboundMessage, tcp: boolean): void {
  const topic = checkName(message.topic, "topic", common.slashAsDot);
  routeKeyFor(message.routeKey, common.settings(topic).routing, tcp);
  delaySeconds(message.delayMs);
  if (message.payload.byteLength > common.maxBodyBytes) {
    throw tooLarge(`${message.payload.byteLength} bytes, over ${common.maxBodyBytes}`);
  }
}

export function integer(value: unknown, field: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw GmqError.invalid(field, `must be an integer in ${min}..${max}`);
  }
  return value as number;
}

function routing(value: unknown, field: string): Routing {
  if (value === undefined || value === "exact" || value === "regex") return value ?? "exact";
  throw GmqError.invalid(field, 'must be "exact" or "regex"');
}

export function resolveCommon(options: GnodeCommonOptions, maxBodyLimit: number): Common {
  const slashAsDot = options.slashAsDot === true;
  const fallback: TopicSettings = { routing: routing(options.routing, "routing"), msgTTR: 0, msgRetry: 0 };
  const settings = new Map<string, TopicSettings>();
  const queues = new Map<string, Set<string>>();
  for (const [name, topic] of Object.entries(options.topics ?? {})) {
    const field = `topics.${name}`;

    const wire = checkName(name, field, slashAsDot);
    settings.set(wire, {
      routing: topic.routing === undefined ? fallback.routing : routing(topic.routing, `${field}.routing`),
      msgTTR: integer(topic.msgTTR, `${field}.msgTTR`, 1, 60, 0),
      msgRetry: integer(topic.msgRetry, `${field}.msgRetry`, 1, 65_535, 0),
    });
    queues.set(
      wire,
      new Set((topic.queues ?? []).map((key, i) => checkName(key, `${field}.queues.${i}`, slashAsDot))),
    );
  }

  return {
    maxBodyBytes: integer(options.maxBodyBytes, "maxBodyBytes", 64, maxBodyLimit, 1024 * 1024),
    slashAsDot,
    retryMs: integer(options.nodeRetryMs, "nodeRetryMs", 1, 600_000, 5_000),
    random: options.random ?? Math.random,
    settings: (topic) => settings.get(topic) ?? fallback,
    queues(topic) {
      let keys = queues.get(topic);
      if (!keys) {
        keys = new Set();
        queues.set(topic, keys);
      }
      return keys;
    },
  };
}

/** A weight from a node spec: a non-negative integer (etcd gives it as a string). */
export function weightOf(value: unknown, field: string): number {
  return integer(typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value, field, 0, 1e9, 1);
}
