/**
 * The options both gnode adapters share, checked once, and what they know about each topic.
 */
import { GmqError, type OutboundMessage } from "gmq";
import { encodeBody } from "./envelope.js";
import { checkBodySize, checkName, checkSize, delaySeconds, type Routing, routeKeyFor } from "./names.js";

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

/** A topic by its wire name: how it is set up on every node (`/config` with all four settings,
 *  then its queues). */
export interface Topic {
  readonly routing: Routing;
  /** Seconds, 1–60; the node only ever lowers it (0: leave it). */
  readonly msgTTR: number;
  /** Deliveries before the dead-letter queue, ≥ 1; lowered only (0: leave it). */
  readonly msgRetry: number;
  /** Bind keys to declare: configured ones plus those used since. */
  readonly queues: Set<string>;
}

export interface Common {
  readonly maxBodyBytes: number;
  readonly slashAsDot: boolean;
  readonly retryMs: number;
  readonly random: () => number;
  topic(name: string): Topic;
}

/**
 * What a node would refuse in a queue message, checked before it is queued (the transport's
 * `checkPublish`) and again when it is sent: its topic, route key and delay, and a payload that
 * alone is over the body limit (the exact size, envelope included, is checked when it is sent).
 */
export function checkQueueMessage(common: Common, message: OutboundMessage, tcp: boolean) {
  const topic = checkName(message.topic, "topic", common.slashAsDot);
  const settings = common.topic(topic);
  const routeKey = routeKeyFor(message.routeKey, settings.routing, tcp);
  const delay = delaySeconds(message.delayMs);
  checkSize(message.payload.byteLength, common.maxBodyBytes);
  return { topic, settings, routeKey, delay };
}

/** A queue message as it is sent: checked, and its body. Publishing to a bind key (`exact`
 *  routing) declares it, so nothing is refused before its consumers start. */
export function prepareQueueMessage(common: Common, message: OutboundMessage, tcp: boolean) {
  const checked = checkQueueMessage(common, message, tcp);
  const body = encodeBody(message);
  checkBodySize(body, common.maxBodyBytes);
  if (checked.settings.routing === "exact" && checked.routeKey) checked.settings.queues.add(checked.routeKey);
  return { ...checked, body };
}

export function integer(value: unknown, field: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw GmqError.invalid(field, `must be an integer in ${min}..${max}`);
  }
  return value as number;
}

function routing(value: unknown, field: string, fallback: Routing): Routing {
  if (value === undefined || value === "exact" || value === "regex") return value ?? fallback;
  throw GmqError.invalid(field, 'must be "exact" or "regex"');
}

export function resolveCommon(options: GnodeCommonOptions, maxBodyLimit: number): Common {
  if (typeof options !== "object" || options === null) throw GmqError.invalid("options", "must be an object");
  const slashAsDot = options.slashAsDot === true;
  const fallback = routing(options.routing, "routing", "exact");
  const topics = new Map<string, Topic>();
  const add = (name: string, topic: GnodeTopicOptions = {}): Topic => {
    const field = `topics.${name}`;
    const settings = {
      routing: routing(topic.routing, `${field}.routing`, fallback),
      msgTTR: integer(topic.msgTTR, `${field}.msgTTR`, 1, 60, 0),
      msgRetry: integer(topic.msgRetry, `${field}.msgRetry`, 1, 65_535, 0),
      queues: new Set(
        (topic.queues ?? []).map((key, i) => checkName(key, `${field}.queues.${i}`, slashAsDot)),
      ),
    };
    topics.set(checkName(name, field, slashAsDot), settings);
    return settings;
  };
  for (const [name, topic] of Object.entries(options.topics ?? {})) add(name, topic);
  return {
    maxBodyBytes: integer(options.maxBodyBytes, "maxBodyBytes", 64, maxBodyLimit, 1024 * 1024),
    slashAsDot,
    retryMs: integer(options.nodeRetryMs, "nodeRetryMs", 1, 600_000, 5_000),
    random: options.random ?? Math.random,
    // Topics not configured get the defaults on first use (their names are checked already).
    topic: (name) => topics.get(name) ?? add(name),
  };
}

/** A weight from a node spec: a non-negative integer (etcd gives it as a string). */
export function weightOf(value: unknown, field: string): number {
  return integer(typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value, field, 0, 1e9, 1);
}
