import { GmqError } from "./errors.js";
import { byId, type OutboxRecord, type OutboxStore } from "./store.js";
import { TickBatch } from "./tick-batch.js";

export type DropReason = "expired" | "replaced" | "overflow" | "aborted" | "timeout" | "rejected" | "closed";

export interface DroppedEvent {
  readonly id: string;
  readonly topic: string;
  readonly reason: DropReason;
  readonly error?: GmqError;
}

export interface OutboxStats {
  /** Records waiting or in flight. */
  readonly count: number;
  readonly bytes: number;
  /** Age of the oldest record in ms (0 when empty). */
  readonly oldestAgeMs: number;
  readonly inFlight: number;
}

export interface OutboxLimits {
  /** Default 100,000 records. */
  maxCount?: number;
  /** Default 64 MiB of payload. */
  maxBytes?: number;
  /** Records older than this are dropped unsent. Default: no limit. */
  maxAgeMs?: number;
  /** When full: reject the new publish (`busy`, reason OUTBOX_FULL) or drop the oldest unsent.
   *  Default "reject". */
  overflow?: "reject" | "drop-oldest";
}

type EntryState = "queued" | "sending" | "done";

/**
 * A record plus what the core needs to know about it while it waits. Whoever waits on it (a
 * publish) extends it and overrides the hooks: one object per message, not an entry and a
 * listener. Records loaded from the store have nobody waiting.
 */
export class OutboxEntry {
  declare readonly size: number; // set by the constructor
  state: EntryState = "queued";
  /** True once the store has it; the flusher never sends a record the store might lose. */
  persisted = false;

  constructor(readonly record: OutboxRecord) {
    this.size = record.payload.byteLength;
  }

  /** The store has it (and again whenever the client learns it cannot be sent now). */
  stored(): void {}
  /** The backend accepted it. */
  sent(): void {}
  /** It left unsent, for the event's reason. */
  dropped(_event: DroppedEvent): void {}
}

export interface OutboxHooks {
  onDropped(event: DroppedEvent): void;
  onChange(): void;
  /** A batch of records reached the store: wake the flusher (and other tabs). */
  onPersisted(): void;
  onError(error: GmqError): void;
}

/**
 * The ordered queue of publishes waiting for the backend, mirrored into a store. Records leave
 * only when the backend accepted them, or with a `dropped` event saying why.
 */
export class Outbox {
  readonly #entries = new Map<string, OutboxEntry>();
  readonly #byKey = new Map<string, OutboxEntry>();
  #sendQueue: OutboxEntry[] = [];
  /** Publishes of one tick share one `store.put` (most of the cost of a durable publish). */
  readonly #writes = new TickBatch<OutboxEntry>((batch) => this.#writeBatch(batch));
  /** Likewise, the deletes of one tick share one `store.delete`. */
  readonly #deletes = new TickBatch<string>((ids) => this.#deleteBatch(ids));
  #head = 0;
  #bytes = 0;
  #sending = 0;
  readonly #store: OutboxStore;
  readonly #limits: Required<Omit<OutboxLimits, "maxAgeMs">> & { maxAgeMs: number | undefined };
  readonly #hooks: OutboxHooks;

  constructor(
    store: OutboxStore,
    limits: Required<Omit<OutboxLimits, "maxAgeMs">> & { maxAgeMs: number | undefined },
    hooks: OutboxHooks,
  ) {
    this.#store = store;
    this.#limits = limits;
    this.#hooks = hooks;
  }

  /** Syncs with the store: adds records this outbox does not know yet (in id order) and retires
   *  those another context sent meanwhile. */
  async load(): Promise<void> {
    // Only records already persisted when the read starts can be judged by it: one whose write
    // lands during the read may be missing from it without having been sent.
    const persistedBefore = new Set<OutboxEntry>();
    for (const entry of this.#entries.values()) if (entry.persisted) persistedBefore.add(entry);
    let records: OutboxRecord[];
    try {
      records = await this.#store.load();
    } catch (error) {
      throw GmqError.from(error, "storage");
    }
    // A persisted record the store no longer has was sent by another context sharing the store.
    const stored = new Set(records.map((record) => record.id));
    for (const entry of persistedBefore) {
      if (entry.state === "queued" && !stored.has(entry.record.id)) this.complete(entry);
    }
    let added = false;
    for (const record of records) {
      if (this.#entries.has(record.id)) continue;
      const entry = new OutboxEntry(record);
      entry.persisted = true;
      this.#insert(entry);
      added = true;
    }
    if (added) this.#rebuildQueue();
    this.#hooks.onChange();
  }

  /**
   * Adds a record: replaces an unsent one with the same key, enforces the limits, and starts the
   * store write. Throws `busy` when full and the policy is "reject".
   */
  enqueue(entry: OutboxEntry): void {
    const { record } = entry;
    if (record.key !== undefined) {
      const older = this.#byKey.get(record.key);
      if (older && older.state === "queued") this.#drop(older, "replaced");
    }
    this.#makeRoom(entry.size);
    this.#insert(entry);
    this.#sendQueue.push(entry);
    this.#writes.add(entry);
    this.#hooks.onChange();
  }

  #writeBatch(batch: OutboxEntry[]): void {
    const records = batch.filter((entry) => entry.state !== "done").map((entry) => entry.record);
    if (records.length === 0) return;
    this.#store.put(records).then(
      () => {
        for (const entry of batch) {
          if (entry.state === "done") continue;
          entry.persisted = true;
          entry.stored();
        }
        this.#hooks.onPersisted();
      },
      (error: unknown) => {
        const failure = new GmqError(
          "storage",
          `outbox write failed: ${(error as Error)?.message ?? error}`,
          {
            cause: error,
          },
        );
        for (const entry of batch) this.#drop(entry, "rejected", failure);
      },
    );
  }

  /** The next record to send, in order, or undefined. Stops at a record not yet persisted. */
  takeNext(now: number): OutboxEntry | undefined {
    while (this.#head < this.#sendQueue.length) {
      const entry = this.#sendQueue[this.#head]!;
      if (entry.state !== "queued") {
        this.#head++;
        continue;
      }
      if (!entry.persisted) return undefined;
      this.#head++;
      if (this.#isExpired(entry.record, now)) {
        this.#drop(entry, "expired");
        continue;
      }
      entry.state = "sending";
      this.#sending++;
      this.#compactQueue();
      return entry;
    }
    return undefined;
  }

  /** The backend accepted it: forget it here and in the store. */
  complete(entry: OutboxEntry): void {
    if (entry.state === "done") return;
    this.#remove(entry);
    entry.sent();
    this.#hooks.onChange();
  }

  /** Sending failed in a way a retry will not fix (e.g. the backend rejected it). */
  reject(entry: OutboxEntry, error: GmqError): void {
    this.#drop(entry, "rejected", error);
  }

  /** The connection dropped: everything in flight goes back to the queue, in id order. */
  requeueInFlight(): void {
    for (const entry of this.#entries.values()) {
      if (entry.state === "sending") {
        entry.state = "queued";
        this.#sending--;
      }
    }
    this.#rebuildQueue();
  }

  /** Takes a record out if it has not been handed to the transport. */
  withdraw(entry: OutboxEntry, reason: DropReason, error?: GmqError): boolean {
    if (entry.state !== "queued") return false;
    this.#drop(entry, reason, error);
    return true;
  }

  /** Entries currently waiting (for the client to tell waiting publishers they are queued). */
  pending(): IterableIterator<OutboxEntry> {
    return this.#entries.values();
  }

  get inFlight(): number {
    return this.#sending;
  }

  /** The client closed over a store that does not survive it: say what is lost. */
  abandon(): void {
    for (const entry of [...this.#entries.values()]) this.#drop(entry, "closed");
  }

  stats(now = Date.now()): OutboxStats {
    const oldest = this.#entries.values().next().value as OutboxEntry | undefined;
    return {
      count: this.#entries.size,
      bytes: this.#bytes,
      oldestAgeMs: oldest ? Math.max(0, now - oldest.record.createdAt) : 0,
      inFlight: this.#sending,
    };
  }

  #insert(entry: OutboxEntry): void {
    this.#entries.set(entry.record.id, entry);
    if (entry.record.key !== undefined) this.#byKey.set(entry.record.key, entry);
    this.#bytes += entry.size;
  }

  #remove(entry: OutboxEntry): void {
    if (entry.state === "sending") this.#sending--;
    entry.state = "done";
    this.#entries.delete(entry.record.id);
    if (entry.record.key !== undefined && this.#byKey.get(entry.record.key) === entry) {
      this.#byKey.delete(entry.record.key);
    }
    this.#bytes -= entry.size;
    this.#deletes.add(entry.record.id);
  }

  #deleteBatch(ids: string[]): void {
    this.#store.delete(ids).catch((error: unknown) => {
      // The records may be sent again after a restart; receivers drop them by id.
      this.#hooks.onError(new GmqError("storage", "outbox delete failed", { cause: error }));
    });
  }

  #drop(entry: OutboxEntry, reason: DropReason, error?: GmqError): void {
    if (entry.state === "done") return;
    this.#remove(entry);
    const event: DroppedEvent = {
      id: entry.record.id,
      topic: entry.record.topic,
      reason,
      ...(error && { error }),
    };
    entry.dropped(event);
    this.#hooks.onDropped(event);
    this.#hooks.onChange();
  }

  #makeRoom(size: number): void {
    const { maxCount, maxBytes, overflow } = this.#limits;
    if (size > maxBytes) {
      throw new GmqError(
        "payload_too_large",
        `payload: ${size} bytes exceeds the outbox limit of ${maxBytes}`,
        {
          field: "payload",
        },
      );
    }
    const full = () => this.#entries.size + 1 > maxCount || this.#bytes + size > maxBytes;
    if (!full()) return;
    if (overflow === "reject") {
      throw new GmqError("busy", `outbox is full (${this.#entries.size} records, ${this.#bytes} bytes)`, {
        reason: "OUTBOX_FULL",
      });
    }
    for (const entry of [...this.#entries.values()]) {
      if (!full()) break;
      if (entry.state === "queued") this.#drop(entry, "overflow");
    }
    if (full()) {
      throw new GmqError("busy", "outbox is full of records already in flight", { reason: "OUTBOX_FULL" });
    }
  }

  #isExpired(record: OutboxRecord, now: number): boolean {
    if (record.expiresAt !== undefined && record.expiresAt <= now) return true;
    const maxAge = this.#limits.maxAgeMs;
    return maxAge !== undefined && record.createdAt + maxAge <= now;
  }

  #rebuildQueue(): void {
    this.#sendQueue = [...this.#entries.values()]
      .filter((entry) => entry.state === "queued")
      .sort((a, b) => byId(a.record, b.record));
    this.#head = 0;
  }

  /** Drops the consumed front of the queue now and then so it does not grow without bound. */
  #compactQueue(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#sendQueue.length) {
      this.#sendQueue = this.#sendQueue.slice(this.#head);
      this.#head = 0;
    }
  }
}
