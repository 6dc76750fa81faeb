/**
 * One queue `<topic>_<bind_key>` (or its DLQ `…_dead`) modelled on upstream's memory-mapped log:
 * unread messages, then the read region the TTR scanner walks in read order (in-flight and
 * already-finished records), the in-flight index by id, and `num` with upstream's exact accounting
 * (it restores a queue after a restart when non-zero). Consumers wait FIFO; with `readAhead` a
 * hidden reader always first in line holds one message for the next TCP `pop` (spec §7.1 #20).
 */

import { goJsonString } from "./go-values.js";

export interface QueuedMsg {
  readonly id: bigint;
  readonly body: Uint8Array;
  readonly retry: number;
}

/** A read message still between the scan and read offsets. */
export interface ReadRecord {
  readonly msg: QueuedMsg;
  /** `fin`: acked or read with auto-ack; `wait`: in flight until `deadlineS`. */
  status: "wait" | "fin";
  readonly deadlineS: number;
}

export type ConsumerKind = "tcp-pop" | "http-pop" | "dead";

/** A blocked reader: `pop` over TCP or HTTP, or `dead`. */
export interface Consumer {
  readonly kind: ConsumerKind;
  /** Called once, right after the message was read for it (so TTR is already running). */
  deliver(msg: QueuedMsg): void;
  /** The topic exited while it waited. */
  topicExited(): void;
}

/** What a queue reads from its topic at read time. */
export interface ReadPolicy {
  readonly readAhead: boolean;
  isAutoAck(): boolean;
  ttrSeconds(): number;
  nowSeconds(): number;
}

export interface QueueState {
  readonly name: string;
  readonly bindKey: string;
  readonly num: number;
  readonly unread: readonly QueuedMsg[];
  readonly readLog: readonly ReadRecord[];
}

export class GnodeQueue {
  num = 0;
  #unread: QueuedMsg[] = [];
  #readLog: ReadRecord[] = [];
  readonly #waitAck = new Map<bigint, ReadRecord>();
  /** Direct readers: every consumer, or with readAhead only HTTP pops and `dead`. */
  #readers: Consumer[] = [];
  /** readAhead: the hidden reader's message and the TCP pops waiting for it. */
  #held: QueuedMsg | undefined;
  #heldWaiters: Consumer[] = [];

  constructor(
    readonly name: string,
    readonly bindKey: string,
    private readonly policy: ReadPolicy,
    restored?: QueueState,
  ) {
    if (restored) {
      this.num = restored.num;
      this.#unread = [...restored.unread];
      // In-flight records come back without their index entries: the scanner drops them (§1).
      this.#readLog = restored.readLog.map((r) => ({ ...r }));
    }
  }

  get unreadCount(): number {
    return this.#unread.length;
  }
  get inFlightCount(): number {
    return this.#waitAck.size;
  }
  get waitingConsumers(): number {
    return this.#readers.length + this.#heldWaiters.length;
  }
  get heldByReadAhead(): QueuedMsg | undefined {
    return this.#held;
  }

  write(msg: QueuedMsg): void {
    this.#unread.push(msg);
    this.num++;
    this.pump();
  }

  /** Queue a consumer; it is served at once if a message is ready. */
  consume(consumer: Consumer): void {
    if (this.policy.readAhead && consumer.kind === "tcp-pop") this.#heldWaiters.push(consumer);
    else this.#readers.push(consumer);
    this.pump();
  }

  /** Forget a consumer whose socket closed (it consumes nothing). */
  cancel(consumer: Consumer): void {
    this.#readers = this.#readers.filter((c) => c !== consumer);
    this.#heldWaiters = this.#heldWaiters.filter((c) => c !== consumer);
  }

  /** Remove and return every waiting consumer (topic exit). */
  takeConsumers(): Consumer[] {
    const all = [...this.#readers, ...this.#heldWaiters];
    this.#readers = [];
    this.#heldWaiters = [];
    return all;
  }

  ack(id: bigint): boolean {
    const record = this.#waitAck.get(id);
    if (!record) return false;
    record.status = "fin";
    this.#waitAck.delete(id);
    return true;
  }

  /**
   * The TTR walk for one queue (spec §1): finished records are passed, the first unexpired
   * in-flight record stops the walk, and an expired one is handed to `expired`. A record whose id
   * is no longer indexed (lost in a restart) is dropped and stops the walk, as upstream does.
   */
  scanExpired(nowS: number, expired: (msg: QueuedMsg) => void): void {
    for (;;) {
      const head = this.#readLog[0];
      if (!head) return;
      if (head.status === "wait" && head.deadlineS > nowS) return;
      this.#readLog.shift();
      this.num--;
      if (head.status === "fin") continue;
      if (!this.#waitAck.has(head.msg.id)) return;
      this.#waitAck.delete(head.msg.id);
      expired(head.msg);
    }
  }

  state(): QueueState {
    return {
      name: this.name,
      bindKey: this.bindKey,
      num: this.num,
      unread: [...this.#unread],
      readLog: this.#readLog.map((r) => ({ ...r })),
    };
  }

  private read(): QueuedMsg {
    const msg = this.#unread.shift()!;
    const autoAck = this.policy.isAutoAck();
    const record: ReadRecord = {
      msg,
      status: autoAck ? "fin" : "wait",
      deadlineS: this.policy.nowSeconds() + this.policy.ttrSeconds(),
    };
    this.#readLog.push(record);
    if (autoAck) this.num--;
    else this.#waitAck.set(msg.id, record);
    return msg;
  }

  private pump(): void {
    for (;;) {
      if (this.policy.readAhead) {
        if (!this.#held && this.#unread.length > 0) {
          this.#held = this.read();
          continue;
        }
        const waiter = this.#held && this.#heldWaiters.shift();
        if (waiter) {
          const msg = this.#held!;
          this.#held = undefined;
          waiter.deliver(msg);
          continue;
        }
      }
      const reader = this.#unread.length > 0 && this.#readers.shift();
      if (!reader) return;
      reader.deliver(this.read());
    }
  }
}

/** RespMsgData as json.Marshal writes it: the delivery payload of a 101 frame and of HTTP `/pop`. */
export function respMsgJson(msg: QueuedMsg): string {
  return `{"id":"${msg.id}","body":${goJsonString(msg.body)},"retry_count":${msg.retry}}`;
}
