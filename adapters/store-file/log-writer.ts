/**
 * The log writer, with group commit: every put/delete submitted in the same tick, or while the
 * previous group is being written and synced, joins the next group, which is appended as frames
 * (frame-appender.ts) and covered by one fdatasync. All callers in a group share one promise that
 * settles only after that sync, so one fsync (and one promise) pays for many publishes.
 *
 * The writer also owns the in-memory live set. It takes a group in once the group is written
 * (while its sync runs), and is read only between groups, once the group is durable (a failed
 * sync breaks the writer); compaction runs between groups too. So whenever it is read, the live
 * set equals what a replay of the log gives.
 */
import type { FileHandle } from "node:fs/promises";
import type { GmqError, OutboxRecord } from "gmq";
import {
  CompactionAfterRenameError,
  type CompactionPolicy,
  compactLog,
  shouldCompact,
} from "./compaction.js";
import { storageError } from "./errors.js";
import { FILE_HEADER_SIZE, type LogOp } from "./format.js";
import { type Appended, FrameAppender } from "./frame-appender.js";
import type { LiveEntry } from "./recovery.js";

export interface FileStoreStats {
  /** put/delete calls made durable. */
  writes: number;
  /** fdatasync calls for appended groups: with group commit, far fewer than `writes`. */
  fsyncs: number;
  compactions: number;
  /** Bytes of log on disk (header included), and how many of them hold live records. */
  fileBytes: number;
  liveBytes: number;
  liveRecords: number;
}

/** The calls that will be committed together. */
class Group {
  readonly ops: LogOp[] = [];
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (error: unknown) => void;
  constructor() {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Callers may hold only a barrier (flush) or nothing: never an unhandled rejection here.
    this.done.catch(() => {});
  }
}

export class LogWriter {
  readonly stats: FileStoreStats;
  private next: Group | undefined;
  private loop: Promise<void> | undefined;
  private compactWaiters: Group[] = [];
  /** After a failed automatic compaction, wait for the log to grow this far before retrying. */
  private compactRetryAt = 0;
  /** Set when the file's state is unknown (a failed fsync or truncate): every later call fails. */
  private broken: GmqError | undefined;
  private liveBytes = 0;
  private readonly appender = new FrameAppender();

  constructor(
    private handle: FileHandle,
    private end: number,
    private live: Map<string, LiveEntry>,
    /** The seed of the log's checksums (see file-header.ts); compaction changes it. */
    private seed: number,
    private readonly path: string,
    private readonly policy: CompactionPolicy,
  ) {
    for (const entry of live.values()) this.liveBytes += entry.size;
    this.stats = { writes: 0, fsyncs: 0, compactions: 0, fileBytes: 0, liveBytes: 0, liveRecords: 0 };
    this.refreshStats();
  }

  /** Resolves once `op` is durable. The op's arrays must not change afterwards. */
  submit(op: LogOp): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    const group = this.nextGroup();
    group.ops.push(op);
    return group.done;
  }

  /** Resolves once everything submitted before it is durable (or has failed). */
  flush(): Promise<void> {
    if (!this.next && !this.loop) return Promise.resolve();
    return this.nextGroup().done.catch(() => {});
  }

  /** Compacts now, whatever the policy says (after the pending groups). */
  compact(): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    const waiter = new Group();
    this.compactWaiters.push(waiter);
    this.start();
    return waiter.done;
  }

  /** The live records sorted by id. */
  records(): OutboxRecord[] {
    if (this.broken) throw this.broken;
    const out: OutboxRecord[] = [];
    let sorted = true;
    for (const { record } of this.live.values()) {
      if (sorted && out.length > 0 && out[out.length - 1]!.id > record.id) sorted = false;
      out.push(record);
    }
    // Ids are monotonic, so insertion order is almost always sorted already: skip the sort then.
    if (!sorted) out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return out;
  }

  /** Starts the loop if idle, e.g. to let it compact a log recovered mostly dead. */
  start(): void {
    this.loop ??= this.run().finally(() => {
      this.loop = undefined;
      // Something may have arrived between the loop's last check and now.
      if (this.next || this.compactWaiters.length > 0) this.start();
    });
  }

  /** Waits for everything queued and closes the file. Submit nothing after calling it. */
  async close(): Promise<void> {
    while (this.loop) await this.loop;
    await this.handle.close();
  }

  private nextGroup(): Group {
    if (!this.next) {
      this.next = new Group();
      this.start();
    }
    return this.next;
  }

  private async run(): Promise<void> {
    // Let every call made in this tick join the first group.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.next || this.compactWaiters.length > 0 || this.wantsCompaction()) {
      const group = this.next;
      this.next = undefined;
      if (group) await this.commit(group);
      if (this.compactWaiters.length > 0 || this.wantsCompaction()) await this.runCompaction();
    }
  }

  private async commit(group: Group): Promise<void> {
    if (this.broken) return group.reject(this.broken);
    const ops = this.dropNoOpDeletes(group.ops);
    if (ops.length > 0) {
      try {
        await this.append(ops);
      } catch (error) {
        return group.reject(error);
      }
    }
    this.stats.writes += group.ops.length;
    group.resolve();
  }

  /** A tombstone for an id that is not there (as of its turn in the group) would only grow the log. */
  private dropNoOpDeletes(ops: LogOp[]): LogOp[] {
    if (!ops.some((op) => op.type === "delete")) return ops;
    const changed = new Map<string, boolean>(); // id → present, for ids this group touches
    const present = (id: string): boolean => changed.get(id) ?? this.live.has(id);
    const out: LogOp[] = [];
    for (const op of ops) {
      if (op.type === "put") {
        for (const r of op.records) changed.set(r.id, true);
        out.push(op);
        continue;
      }
      const ids = op.ids.filter(present);
      for (const id of ids) changed.set(id, false);
      if (ids.length > 0) out.push({ type: "delete", ids });
    }
    return out;
  }

  private async append(ops: LogOp[]): Promise<void> {
    let appended: Appended;
    try {
      appended = await this.appender.append(this.handle, ops, this.seed, this.end);
    } catch (error) {
      // Cut off whatever part landed, so the next group appends on a clean boundary.
      await this.handle.truncate(this.end).catch((truncateError: unknown) => {
        this.fail(
          storageError(`outbox ${this.path}: cannot undo a failed write`, "IO_FAILED", truncateError),
        );
      });
      throw storageError(`outbox ${this.path}: write failed: ${String(error)}`, undefined, error);
    }
    // While the disk syncs (on the thread pool), the live set takes the group in. Nothing reads
    // it before the group settles (load() waits for the group, compaction runs between groups),
    // and a failed sync breaks the writer for good: no caller ever sees a record not yet durable.
    const syncing = this.handle.datasync();
    this.end += appended.bytes;
    this.index(ops, appended.putSizes);
    try {
      await syncing;
      this.stats.fsyncs++;
    } catch (error) {
      // After a failed fsync the kernel may have dropped the dirty pages and a retry can falsely
      // succeed, so this process can no longer trust the file: reopening replays it.
      throw this.fail(
        storageError(`outbox ${this.path}: fsync failed: ${String(error)}`, "FSYNC_FAILED", error),
      );
    }
    this.refreshStats();
  }

  /** Applies a written group to the live set. */
  private index(ops: readonly LogOp[], putSizes: readonly number[]): void {
    let i = 0;
    for (const op of ops) {
      if (op.type === "put") {
        for (const record of op.records) {
          const size = putSizes[i++]!;
          this.liveBytes += size - (this.live.get(record.id)?.size ?? 0);
          // An overwrite keeps its place in the map, so map order stays id order.
          this.live.set(record.id, { record, size });
        }
      } else {
        for (const id of op.ids) {
          this.liveBytes -= this.live.get(id)?.size ?? 0;
          this.live.delete(id);
        }
      }
    }
  }

  private wantsCompaction(): boolean {
    return (
      !this.broken &&
      this.end >= this.compactRetryAt &&
      // The header is live too: it survives compaction.
      shouldCompact(this.end, this.liveBytes + FILE_HEADER_SIZE, this.policy)
    );
  }

  private async runCompaction(): Promise<void> {
    const waiters = this.compactWaiters.splice(0);
    if (this.broken) {
      for (const w of waiters) w.reject(this.broken);
      return;
    }
    try {
      const result = await compactLog(this.path, this.live);
      const old = this.handle;
      this.handle = result.handle;
      this.end = result.end;
      this.seed = result.seed;
      this.live = result.live;
      this.liveBytes = 0;
      for (const entry of this.live.values()) this.liveBytes += entry.size;
      this.stats.compactions++;
      this.refreshStats();
      await old.close().catch(() => {});
      for (const w of waiters) w.resolve();
    } catch (error) {
      let failure: GmqError;
      if (error instanceof CompactionAfterRenameError) {
        failure = this.fail(storageError(`outbox ${this.path}: compaction failed`, "IO_FAILED", error));
      } else {
        // The old log is intact: carry on, and retry only after it has grown some more.
        failure = storageError(`outbox ${this.path}: compaction failed: ${String(error)}`, undefined, error);
        this.compactRetryAt = this.end + this.policy.minBytes;
      }
      for (const w of waiters) w.reject(failure);
    }
  }

  private fail(error: GmqError): GmqError {
    this.broken ??= error;
    return this.broken;
  }

  private refreshStats(): void {
    this.stats.fileBytes = this.end;
    this.stats.liveBytes = this.liveBytes;
    this.stats.liveRecords = this.live.size;
  }
}
