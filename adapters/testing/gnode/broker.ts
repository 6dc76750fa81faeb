/**
 * The node's shared state behind both listeners: loaded topics, the metadata "files" graceful
 * exits leave behind, the durable delay store, id generation, the scanner tick, and the incident
 * log for the upstream crashes and hangs the emulator refuses to reproduce (spec §7.2).
 */

import { type TestClock, unixSeconds } from "../clock.js";
import { DelayStore } from "./delay-store.js";
import { goUint32 } from "./go-values.js";
import type { Consumer } from "./queue.js";
import { Snowflake } from "./snowflake.js";
import { GnodeTopic, type TopicSnapshot } from "./topic.js";

/** The largest body a queue record can hold (10 MiB minus record and message headers). */
export const MAX_BODY_BYTES = 10 * 1024 * 1024 - 25;

export type GnodeIncidentKind =
  /** TCP `set` with exactly two arguments: an index panic upstream. */
  | "set-command"
  /** An empty topic on HTTP `/push` or TCP `pub`/`mpub`/`ack`/`dead`: a panic creating the topic. */
  | "empty-topic"
  /** `/` or NUL in a name, or a queue file name over 255 bytes: the process exits. */
  | "invalid-name"
  /** A body over 10,485,735 bytes or a huge TCP length prefix: panic or OOM. */
  | "body-too-large"
  /** A TCP `dead` blocked while its topic exits: a nil-pointer panic. */
  | "dead-during-exit";

export interface GnodeIncident {
  readonly kind: GnodeIncidentKind;
  readonly detail: string;
}

export type PushResult =
  | { readonly ok: true; readonly id: bigint }
  | { readonly ok: false; readonly reason: "empty-topic" | "invalid-name" | "too-large" }
  | { readonly ok: false; readonly reason: "no-match"; readonly text: string };

export interface BrokerConfig {
  readonly nodeId: number;
  readonly msgTTR: number;
  readonly msgMaxRetry: number;
  readonly readAhead: boolean;
  readonly clock: TestClock;
}

export class GnodeBroker {
  readonly topics = new Map<string, GnodeTopic>();
  readonly delays = new DelayStore();
  readonly incidents: GnodeIncident[] = [];
  /** `<topic>.meta` files: written by a graceful exit, read (not removed) when the topic loads again. */
  readonly #saved = new Map<string, TopicSnapshot>();
  readonly #ids: Snowflake;

  constructor(readonly config: BrokerConfig) {
    this.#ids = new Snowflake(config.nodeId, config.clock);
  }

  incident(kind: GnodeIncidentKind, detail: string): void {
    this.incidents.push({ kind, detail });
  }

  /** The topic, loading or creating it (every request that creates topics goes through here). */
  topic(name: string): GnodeTopic {
    let t = this.topics.get(name);
    if (!t) {
      t = new GnodeTopic(name, this.config, this.#saved.get(name));
      this.topics.set(name, t);
    }
    return t;
  }

  loaded(name: string): GnodeTopic | undefined {
    return this.topics.get(name);
  }

  nowSeconds(): number {
    return unixSeconds(this.config.clock);
  }

  /**
   * Dispatcher.push (spec §1): the id is minted first, the topic is created, the targets are
   * routed, then the message is written to every target or stored in the delay store with those
   * targets. `delay` is the decoded int; it is stored as uint32 seconds.
   */
  push(topicName: string, routeKey: string, body: Uint8Array, delay: bigint, via: string): PushResult {
    if (body.length > MAX_BODY_BYTES) {
      this.incident("body-too-large", `${via}: body of ${body.length} bytes for topic ${topicName}`);
      return { ok: false, reason: "too-large" };
    }
    const id = this.#ids.next();
    if (topicName === "") {
      this.incident("empty-topic", `${via} with an empty topic`);
      return { ok: false, reason: "empty-topic" };
    }
    const topic = this.topic(topicName);
    const targets = topic.route(routeKey);
    if (targets === "invalid-name") {
      this.incident("invalid-name", `${via}: queue ${topicName}_default cannot be created`);
      return { ok: false, reason: "invalid-name" };
    }
    if (targets.length === 0) {
      return {
        ok: false,
        reason: "no-match",
        text: `routeKey:${routeKey} is not match with queue, the mode is ${topic.mode}`,
      };
    }
    const msg = { id, body, retry: 0 };
    const delaySeconds = goUint32(delay);
    if (delaySeconds > 0) {
      this.delays.add(topicName, {
        dueS: this.nowSeconds() + delaySeconds,
        msg,
        bindKeys: targets.map((q) => q.bindKey),
      });
    } else {
      for (const q of targets) topic.write(q, msg);
    }
    return { ok: true, id };
  }

  /** One scanner tick over the loaded topics: due delays first, then TTR expiry. */
  scan(): void {
    const nowS = this.nowSeconds();
    for (const topic of [...this.topics.values()]) {
      for (const due of this.delays.takeDue(topic.name, nowS)) topic.deliverDelayed(due);
      topic.scanInFlight(nowS);
    }
  }

  /**
   * Unload a topic the way `/exitTopic` does: save its metadata, drop it from memory, and return
   * the consumers that were waiting on it (the caller fails them per interface).
   */
  unload(name: string): Consumer[] {
    const topic = this.topics.get(name);
    if (!topic) return [];
    this.topics.delete(name);
    this.#saved.set(name, topic.snapshot());
    return topic.takeConsumers();
  }

  /** A crash: loaded topics vanish without saving; older metadata files and delays stay. */
  dropAll(): void {
    for (const topic of this.topics.values()) topic.takeConsumers();
    this.topics.clear();
  }

  /** Whether a topic has metadata on "disk" from an earlier graceful exit. */
  hasSavedMetadata(name: string): boolean {
    return this.#saved.has(name);
  }
}
