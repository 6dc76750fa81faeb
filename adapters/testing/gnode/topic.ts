/**
 * A topic (spec §1): its four settings, its queues and dead-letter queues, the counters of
 * TopicStat, routing of a push, and the TTR part of each scan tick. Created lazily by the broker,
 * optionally from the metadata saved when it last exited gracefully.
 */

import { Buffer } from "node:buffer";
import type { TestClock } from "../clock.js";
import type { DelayedMsg } from "./delay-store.js";
import { goJsonString } from "./go-values.js";
import { type Consumer, GnodeQueue, type QueuedMsg, type QueueState, type ReadPolicy } from "./queue.js";
import { re2Search } from "./re2.js";

export const DEFAULT_KEY = "default";
export const MODE_FULL = 1;
export const MODE_FUZZY = 2;

export interface TopicHost {
  readonly clock: TestClock;
  readonly readAhead: boolean;
  /** Node defaults (`-msg_ttr`, `-msg_max_retry`); topics start from them and only go down. */
  readonly msgTTR: number;
  readonly msgMaxRetry: number;
}

/** What a graceful exit writes to `<topic>.meta` (TTR and retry are not in it). */
export interface TopicSnapshot {
  readonly mode: number;
  readonly isAutoAck: boolean;
  readonly popNum: number;
  readonly pushNum: number;
  readonly deadNum: number;
  readonly queues: readonly QueueState[];
  readonly deadQueues: readonly QueueState[];
}

export interface TopicConfig {
  isAutoAck: number;
  mode: number;
  msgTTR: number;
  msgRetry: number;
}

/**
 * Names that would make upstream exit when it creates the queue file (spec §7.2): `/` or NUL in
 * the topic or bind key, or `<topic>_<bind_key>_dead.queue` longer than 255 bytes.
 */
export function isQueueNameValid(topic: string, bindKey: string): boolean {
  if (/[/\0]/.test(topic) || /[/\0]/.test(bindKey)) return false;
  return Buffer.byteLength(`${topic}_${bindKey}_dead.queue`, "utf8") <= 255;
}

export class GnodeTopic {
  mode = MODE_FUZZY;
  isAutoAck = true;
  msgTTR: number;
  msgRetry: number;
  pushNum = 0;
  popNum = 0;
  deadNum = 0;
  readonly startTimeMs: number;
  readonly queues = new Map<string, GnodeQueue>();
  readonly deadQueues = new Map<string, GnodeQueue>();
  readonly #policy: ReadPolicy;

  constructor(
    readonly name: string,
    host: TopicHost,
    saved?: TopicSnapshot,
  ) {
    this.msgTTR = host.msgTTR;
    this.msgRetry = host.msgMaxRetry;
    this.startTimeMs = host.clock.now();
    this.#policy = {
      readAhead: host.readAhead,
      isAutoAck: () => this.isAutoAck,
      ttrSeconds: () => this.msgTTR,
      nowSeconds: () => Math.floor(host.clock.now() / 1000),
    };
    if (saved) {
      this.mode = saved.mode;
      this.isAutoAck = saved.isAutoAck;
      this.popNum = saved.popNum;
      this.pushNum = saved.pushNum;
      this.deadNum = saved.deadNum;
      for (const q of saved.queues) this.queues.set(q.bindKey, this.newQueue(q.name, q.bindKey, q));
      for (const q of saved.deadQueues) this.deadQueues.set(q.bindKey, this.newQueue(q.name, q.bindKey, q));
    }
  }

  /** The queue a consumer names; an empty bind key means `default`. */
  queueFor(bindKey: string): GnodeQueue | undefined {
    return this.queues.get(bindKey || DEFAULT_KEY);
  }

  deadQueueFor(bindKey: string): GnodeQueue | undefined {
    return this.deadQueues.get(bindKey || DEFAULT_KEY);
  }

  /** Queues a push goes to; an empty route key creates `default` when missing. */
  route(routeKey: string): GnodeQueue[] | "invalid-name" {
    if (routeKey === "") {
      let q = this.queues.get(DEFAULT_KEY);
      if (!q) {
        if (!isQueueNameValid(this.name, DEFAULT_KEY)) return "invalid-name";
        q = this.newQueue(`${this.name}_${DEFAULT_KEY}`, DEFAULT_KEY);
        this.queues.set(DEFAULT_KEY, q);
      }
      return [q];
    }
    const matches = (bindKey: string) =>
      this.mode === MODE_FULL ? bindKey === routeKey : re2Search(routeKey, bindKey);
    return [...this.queues.entries()].filter(([k]) => matches(k)).map(([, q]) => q);
  }

  declare(bindKey: string): "ok" | "exists" | "invalid-name" {
    if (this.queueFor(bindKey)) return "exists";
    if (!isQueueNameValid(this.name, bindKey)) return "invalid-name";
    this.queues.set(bindKey, this.newQueue(`${this.name}_${bindKey}`, bindKey));
    return "ok";
  }

  /** `/config` (spec §1): isAutoAck is 1 or false, mode only 1 or 2, TTR and retry only down. */
  configure(c: TopicConfig): void {
    this.isAutoAck = c.isAutoAck === 1;
    if (c.mode === MODE_FULL || c.mode === MODE_FUZZY) this.mode = c.mode;
    if (c.msgTTR > 0 && c.msgTTR < this.msgTTR) this.msgTTR = c.msgTTR;
    if (c.msgRetry > 0 && c.msgRetry < this.msgRetry) this.msgRetry = c.msgRetry;
  }

  write(queue: GnodeQueue, msg: QueuedMsg): void {
    queue.write(msg);
    this.pushNum++;
  }

  /** A due delayed message: one copy per target that still exists; the rest are dropped. */
  deliverDelayed(entry: DelayedMsg): void {
    for (const bindKey of entry.bindKeys) {
      const q = this.queueFor(bindKey);
      if (q) this.write(q, entry.msg);
    }
  }

  /** The TTR half of a scan tick (spec §1, §7.1 #10). */
  scanInFlight(nowS: number): void {
    for (const queue of this.queues.values()) {
      queue.scanExpired(nowS, (msg) => {
        const again: QueuedMsg = { id: msg.id, body: msg.body, retry: (msg.retry + 1) & 0xffff };
        if (again.retry <= this.msgRetry) {
          this.write(queue, again);
          return;
        }
        let dead = this.deadQueues.get(queue.bindKey);
        if (!dead) {
          dead = this.newQueue(`${this.name}_${queue.bindKey}_dead`, queue.bindKey);
          this.deadQueues.set(queue.bindKey, dead);
        }
        dead.write(again);
        this.deadNum++;
      });
    }
  }

  /** Every waiting consumer of every queue and DLQ, removed from its queue. */
  takeConsumers(): Consumer[] {
    return [...this.queues.values(), ...this.deadQueues.values()].flatMap((q) => q.takeConsumers());
  }

  snapshot(): TopicSnapshot {
    const nonEmpty = (m: Map<string, GnodeQueue>) =>
      [...m.values()].filter((q) => q.num !== 0).map((q) => q.state());
    return {
      mode: this.mode,
      isAutoAck: this.isAutoAck,
      popNum: this.popNum,
      pushNum: this.pushNum,
      deadNum: this.deadNum,
      queues: nonEmpty(this.queues),
      deadQueues: nonEmpty(this.deadQueues),
    };
  }

  /** TopicStat as upstream's json.Marshal writes it (struct field order). */
  statJson(delayNum: number): string {
    let waitAck = 0;
    let queueMsgNum = 0;
    for (const q of this.queues.values()) {
      waitAck += q.inFlightCount;
      queueMsgNum += q.num;
    }
    return (
      `{"name":${goJsonString(this.name)},"pop_num":${this.popNum},"push_num":${this.pushNum},` +
      `"dead_num":${this.deadNum},"queue_msg_num":${queueMsgNum},"queue_num":${this.queues.size},` +
      `"delay_num":${delayNum},"wait_ack_num":${waitAck},"start_time":"${localTime(this.startTimeMs)}",` +
      `"is_auto_ack":${this.isAutoAck}}`
    );
  }

  private newQueue(name: string, bindKey: string, restored?: QueueState): GnodeQueue {
    return new GnodeQueue(name, bindKey, this.#policy, restored);
  }
}

/** Go's `2006-01-02 15:04:05` in the server's local time. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  );
}
