/**
 * Typed admin helpers for one gmq node over HTTP (spec §2): topic configuration (always all four
 * settings), queue declaration, topic statistics. Names are checked like the adapters check them.
 */
import { GmqError } from "gmq";
import { HttpNode } from "./http-node.js";
import { checkName, type Routing } from "./names.js";
import { nodeError } from "./reasons.js";

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
  if (typeof url !== "string" || url === "") throw GmqError.invalid("url", "must be a node's URL");
  const closed = new AbortController().signal;
  const node = new HttpNode(url, 1, {
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    closed,
    settings: () => ({ routing: "exact", msgTTR: 0, msgRetry: 0 }),
  });
  const name = (topic: string) => checkName(topic, "topic", false);
  const count = (value: unknown, field: string) => {
    if (value !== undefined && (!Number.isInteger(value) || (value as number) < 0)) {
      throw GmqError.invalid(field, "must be an integer ≥ 0");
    }
    return String(value ?? 0);
  };
  return {
    async configure(topic, config = {}) {
      await node.ok("/config", {
        topic: name(topic),
        isAutoAck: config.autoAck ? "1" : "0",
        mode: config.routing === "regex" ? "2" : "1",
        msgTTR: count(config.msgTTR, "msgTTR"),
        msgRetry: count(config.msgRetry, "msgRetry"),
      });
    },
    async declareQueue(topic, bindKey) {
      const reply = await node.request(
        "/declareQueue",
        { topic: name(topic), bindKey: checkName(bindKey, "bindKey", false) },
        closed,
      );
      if (reply.code === 0) return true;
      if (reply.msg.endsWith("has exist.")) return false;
      throw nodeError(reply.msg, "gnode /declareQueue");
    },
    topicStat: async (topic) => (await node.ok("/getTopicStat", { topic: name(topic) })) as GnodeTopicStat,
    allTopicStats: async () => (await node.ok("/getAllTopicStat", {})) as GnodeTopicStat[],
    queues: async (topic) =>
      (await node.ok("/getQueuesByTopic", { topic: name(topic) })) as Record<string, string>,
    async exitTopic(topic) {
      await node.ok("/exitTopic", { topic: name(topic) });
    },
  };
}
