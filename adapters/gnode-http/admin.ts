/**
 * Typed admin helpers for one gmq node over HTTP (spec §2): topic configuration (always all four
 * settings), queue declaration, topic statistics. Names are checked like the adapters check them.
 */
import { baseUrl, call, configure, fetchOf, unlessExisting } from "./http-node.js";
import { checkName, type Routing } from "./names.js";
import { integer } from "./settings.js";

/** `/getTopicStat` as the node reports it (`pop_num` counts HTTP pops only). */
export interface GnodeTopicStat {
  readonly name: string;
  readonly pop_num: number;
  readonly push_num: number;
  readonly dead_num: number;
  readonly queue_msg_num: number;
  readonly queue_num: number;
  readonly delay_num: number;
  readonly wait_ack_num: number;
  /** `YYYY-MM-DD HH:MM:SS`, the node's local time. */
  readonly start_time: string;
  readonly is_auto_ack: boolean;
}

export interface GnodeTopicConfig {
  /** Default `exact` (mode 1). */
  routing?: Routing;
  /** Default false: manual ack (what the adapters need). */
  autoAck?: boolean;
  /** Lowered only; 0 or absent: unchanged. */
  msgTTR?: number;
  msgRetry?: number;
}

export interface GnodeAdmin {
  /** `/config` with all four parameters (an absent one would switch manual ack on silently). */
  configure(topic: string, config?: GnodeTopicConfig): Promise<void>;
  /** `/declareQueue`: true when created, false when it existed. */
  declareQueue(topic: string, bindKey: string): Promise<boolean>;
  topicStat(topic: string): Promise<GnodeTopicStat>;
  allTopicStats(): Promise<GnodeTopicStat[]>;
  /** Bind key → queue name (dead-letter queues are not listed). */
  queues(topic: string): Promise<Record<string, string>>;
  /** Unload the topic (its metadata is saved; waiting consumers are dropped). */
  exitTopic(topic: string): Promise<void>;
}

export function gnodeAdmin(url: string, options: { fetch?: typeof fetch } = {}): GnodeAdmin {
  const io = { fetch: fetchOf(options.fetch), waits: new Set<never>() };
  const base = baseUrl(url, "url");
  const name = (topic: string) => checkName(topic, "topic", false);
  const count = (value: unknown, field: string) => integer(value, field, 0, 1e9, 0);
  const ok = async (path: string, topic?: string): Promise<any> =>
    call(io, base, path, topic === undefined ? {} : { topic: name(topic) });
  return {
    configure: async (topic, config = {}) =>
      configure(
        io,
        base,
        name(topic),
        {
          routing: config.routing,
          msgTTR: count(config.msgTTR, "msgTTR"),
          msgRetry: count(config.msgRetry, "msgRetry"),
        },
        config.autoAck,
      ),
    declareQueue: async (topic, bindKey) =>
      call(io, base, "/declareQueue", {
        topic: name(topic),
        bindKey: checkName(bindKey, "bindKey", false),
      }).then(
        () => true,
        (error: unknown) => {
          unlessExisting(error);
          return false;
        },
      ),
    topicStat: (topic) => ok("/getTopicStat", topic),
    allTopicStats: () => ok("/getAllTopicStat"),
    queues: (topic) => ok("/getQueuesByTopic", topic),
    exitTopic: async (topic) => void (await ok("/exitTopic", topic)),
  };
}
