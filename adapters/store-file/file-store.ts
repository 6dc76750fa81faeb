/**
 * `fileStore`: the Node outbox store. An append-only, checksummed log (format.ts) written with
 * group commit (log-writer.ts), compacted when mostly dead (compaction.ts), replayed and repaired
 * on open (recovery.ts), and guarded by a lock file (lock.ts).
 */
import { promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { checkOutboxIds, checkOutboxRecords, GmqError, type OutboxRecord, type OutboxStore } from "gmq";
import { type CompactionPolicy, compactionTempPath, compactLog } from "./compaction.js";
import { errnoCode, storageError } from "./errors.js";
import { type LogOp, MAX_RECORD_SIZE, putBound } from "./format.js";
import { acquireLock, type FileLock } from "./lock.js";
import { type FileStoreStats, LogWriter } from "./log-writer.js";
import { type CorruptionInfo, recover } from "./recovery.js";
import { StateFile } from "./state-file.js";
import { syncDirectory } from "./sync-dir.js";

export interface FileStoreOptions {
  /** The log file. Its directory is created if missing; `<path>.lock` sits beside it. */
  path: string;
  /** Called when opening dropped part of the log: a torn or damaged tail (cut off the file), or
   *  damaged frames in the middle (skipped; every intact frame after them is kept, and the log is
   *  rewritten without them). When absent, a process warning is emitted instead, so a drop is
   *  never silent. */
  onCorruption?: (info: CorruptionInfo) => void;
  /** When to rewrite the log without its dead frames. Default: log ≥ 1 MiB and > 50 % dead. */
  compaction?: { minBytes?: number; deadRatio?: number };
}

export interface FileOutboxStore extends OutboxStore {
  readonly kind: "file";
  readonly durable: true;
  /** Absolute path of the log. */
  readonly path: string;
  /** Live counters: group commit shows as `fsyncs` far below `writes`. */
  readonly stats: Readonly<FileStoreStats>;
  /** What the last open dropped from the log, if anything (also passed to `onCorruption`). */
  readonly corruption: CorruptionInfo | undefined;
  /** Rewrite the log now with only its live records. */
  compact(): Promise<void>;
}

const DEFAULT_POLICY: CompactionPolicy = { minBytes: 1024 * 1024, deadRatio: 0.5 };

interface Opened {
  readonly writer: LogWriter;
  readonly lock: FileLock;
}

export function fileStore(options: FileStoreOptions): FileOutboxStore {
  const { path, policy, onCorruption } = validate(options);
  let opening: Promise<Opened> | undefined;
  let closing: Promise<void> | undefined;
  let corruption: CorruptionInfo | undefined;
  let stats: Readonly<FileStoreStats> = {
    writes: 0,
    fsyncs: 0,
    compactions: 0,
    fileBytes: 0,
    liveBytes: 0,
    liveRecords: 0,
  };

  let opened: Opened | undefined;
  /** Writes called before the log is open, handed to the writer in call order once it is (so a
   *  put and a later delete of the same id cannot swap places). */
  const early: { op: LogOp; resolve: () => void; reject: (error: unknown) => void }[] = [];

  const closedError = (): GmqError => new GmqError("closed", `outbox store ${path} is closed`);

  const open = (): Promise<Opened> => {
    if (!opening) {
      opening = openLog(path, policy, (info) => {
        corruption = info;
        report(info, onCorruption);
      }).then(
        (result) => {
          opened = result;
          stats = result.writer.stats;
          for (const call of early.splice(0)) result.writer.submit(call.op).then(call.resolve, call.reject);
          return result;
        },
        (error: unknown) => {
          opening = undefined; // e.g. LOCKED: a later call may try again
          const failure =
            error instanceof GmqError
              ? error
              : storageError(`cannot open outbox ${path}: ${String(error)}`, undefined, error);
          for (const call of early.splice(0)) call.reject(failure);
          throw failure;
        },
      );
    }
    return opening;
  };

  /** The writer, opening on first use; fails with `closed` once close() has been called. */
  const writer = async (): Promise<LogWriter> => {
    if (closing) throw closedError();
    const result = await open();
    if (closing) throw closedError();
    return result.writer;
  };

  /** Hands `op` to the writer. Not async on purpose: once open, all callers of a group get the
   *  group's one promise, instead of a promise (and microtask hops) each. */
  const submit = (op: LogOp): Promise<void> => {
    if (closing) return Promise.reject(closedError());
    if (opened) return opened.writer.submit(op);
    return new Promise((resolve, reject) => {
      early.push({ op, resolve, reject });
      open().catch(() => {}); // the failure reaches the caller through `early`
    });
  };

  const state = new StateFile(`${path}.state`);

  return {
    kind: "file",
    durable: true,
    path,
    get stats() {
      return stats;
    },
    get corruption() {
      return corruption;
    },

    async load() {
      const w = await writer();
      await w.flush();
      return w.records();
    },

    // Async, so bad input rejects rather than throws; the body up to `submit` still runs at call
    // time, which keeps calls in order.
    async put(records) {
      checkRecords(records);
      if (records.length === 0) {
        if (closing) throw closedError();
        return;
      }
      // A copy: the caller may reuse its array before the group is written.
      return submit({ type: "put", records: [...records] });
    },

    async delete(ids) {
      checkOutboxIds(ids);
      if (ids.length === 0) {
        if (closing) throw closedError();
        return;
      }
      return submit({ type: "delete", ids: [...ids] });
    },

    async compact() {
      await (await writer()).compact();
    },

    async readState(key) {
      if (closing) throw closedError();
      await open(); // the lock: only the process that owns the outbox reads its state
      return state.read(key);
    },

    async writeState(key, value) {
      if (closing) throw closedError();
      await open();
      return state.write(key, value);
    },

    close() {
      closing ??= (async () => {
        const result = await opening?.catch(() => undefined);
        if (!result) return;
        await state.close().catch(() => {});
        try {
          await result.writer.close();
        } catch (error) {
          throw storageError(`outbox ${path}: close failed: ${String(error)}`, undefined, error);
        } finally {
          await result.lock.release();
        }
      })();
      return closing;
    },
  };
}

async function openLog(
  path: string,
  policy: CompactionPolicy,
  onCorruption: (info: CorruptionInfo) => void,
): Promise<Opened> {
  await fs.mkdir(dirname(path), { recursive: true });
  const lock = await acquireLock(path);
  let handle: FileHandle | undefined;
  try {
    // Only a compaction that crashed before its rename leaves this; the log itself is intact.
    await fs.rm(compactionTempPath(path), { force: true });
    let created = false;
    try {
      handle = await fs.open(path, "r+");
    } catch (error) {
      if (errnoCode(error) !== "ENOENT") throw error;
      handle = await fs.open(path, "wx+");
      created = true;
    }
    const recovered = await recover(handle, path);
    if (created) await syncDirectory(dirname(path));
    if (recovered.corruption) onCorruption(recovered.corruption);
    let { end, live } = recovered;
    let { seed } = recovered.framing;
    if (recovered.rewrite) {
      // Damage in the middle would be found (and reported) again at every open, and an older
      // format cannot take new frames: write the live records to a fresh log now.
      const compacted = await compactLog(path, live);
      await handle.close().catch(() => {});
      handle = compacted.handle;
      ({ end, live, seed } = compacted);
    }
    const writer = new LogWriter(handle, end, live, seed, path, policy);
    writer.start(); // compacts right away if the recovered log is mostly dead
    return { writer, lock };
  } catch (error) {
    await handle?.close().catch(() => {});
    await lock.release();
    throw error;
  }
}

/** One line saying what was dropped, for the process warning. */
export function describeCorruption(info: CorruptionInfo): string {
  const middle = info.regions.filter((r) => !r.tail);
  const tail = info.regions.find((r) => r.tail);
  const parts: string[] = [];
  if (middle.length > 0) {
    const where = middle.map((r) => `${r.bytes} bytes at ${r.offset} (${r.reason})`).join(", ");
    parts.push(`skipped ${middle.length} damaged stretch${middle.length > 1 ? "es" : ""}: ${where}`);
  }
  if (tail) parts.push(`cut a ${tail.reason} tail of ${tail.bytes} bytes at ${tail.offset}`);
  return `gmq outbox ${info.path}: ${parts.join("; ")}; kept ${info.recordsKept} records`;
}

function report(info: CorruptionInfo, onCorruption: ((info: CorruptionInfo) => void) | undefined): void {
  if (!onCorruption) {
    process.emitWarning(describeCorruption(info), { code: "GMQ_OUTBOX_CORRUPTION" });
    return;
  }
  try {
    onCorruption(info);
  } catch {
    // A failing report hook must not stop the outbox from opening.
  }
}

function validate(options: FileStoreOptions): {
  path: string;
  policy: CompactionPolicy;
  onCorruption: ((info: CorruptionInfo) => void) | undefined;
} {
  if (typeof options !== "object" || options === null) throw GmqError.invalid("options", "must be an object");
  if (typeof options.path !== "string" || options.path === "") {
    throw GmqError.invalid("path", "must be a non-empty string");
  }
  if (options.onCorruption !== undefined && typeof options.onCorruption !== "function") {
    throw GmqError.invalid("onCorruption", "must be a function");
  }
  const minBytes = options.compaction?.minBytes ?? DEFAULT_POLICY.minBytes;
  const deadRatio = options.compaction?.deadRatio ?? DEFAULT_POLICY.deadRatio;
  if (!Number.isFinite(minBytes) || minBytes < 0) {
    throw GmqError.invalid("compaction.minBytes", "must be a finite number ≥ 0");
  }
  if (!(deadRatio > 0 && deadRatio < 1)) throw GmqError.invalid("compaction.deadRatio", "must be in (0, 1)");
  return { path: resolve(options.path), policy: { minBytes, deadRatio }, onCorruption: options.onCorruption };
}

/** Rejects what the log cannot encode before it joins a group, so one bad record never fails the
 *  other callers sharing its fsync. */
function checkRecords(records: readonly OutboxRecord[]): void {
  checkOutboxRecords(records);
  for (let i = 0; i < records.length; i++) {
    if (putBound(records[i]!) > MAX_RECORD_SIZE) {
      throw new GmqError(
        "payload_too_large",
        `records[${i}]: larger than the file outbox accepts (256 MiB)`,
        {
          field: `records[${i}]`,
        },
      );
    }
  }
}
