import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { appendFile, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { OutboxRecord } from "gmq";
import { record, runStoreContract } from "gmq/contract";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { crc32, crc32Portable } from "../adapters/store-file/crc32.js";
import { readHeader } from "../adapters/store-file/file-header.js";
import { readFrame } from "../adapters/store-file/format.js";
import { type CorruptionInfo, type FileOutboxStore, fileStore } from "../adapters/store-file/index.js";
import { GmqError } from "../src/errors.js";
import { recordScenario, tally } from "./support/reliability.js";

const root = mkdtempSync(join(tmpdir(), "gmq-store-file-"));
let dir = root;
let n = 0;
const freshDir = (): string => {
  dir = join(root, `t${n++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

runStoreContract("file", {
  fresh: () => {
    freshDir();
  },
  open: () => fileStore({ path: join(dir, "outbox.log") }),
});

/** Stores opened by a test, closed after it even when it fails. */
const opened: FileOutboxStore[] = [];
const open = (options: Partial<Parameters<typeof fileStore>[0]> = {}): FileOutboxStore => {
  const store = fileStore({ path: join(dir, "outbox.log"), ...options });
  opened.push(store);
  return store;
};
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close().catch(() => {});
});

const ids = (records: readonly { id: string }[]): string[] => records.map((r) => r.id);

describe("file store: group commit", () => {
  it("covers 1,000 concurrent puts with a handful of fsyncs, resolving each after its fsync", async () => {
    freshDir();
    const store = open();
    await store.load();
    const all = Array.from({ length: 1000 }, (_, i) => record(i));
    const fsyncsSeen: number[] = [];
    await Promise.all(all.map((r) => store.put([r]).then(() => fsyncsSeen.push(store.stats.fsyncs))));
    expect(store.stats.writes).toBe(1000);
    expect(store.stats.fsyncs).toBeGreaterThanOrEqual(1);
    expect(store.stats.fsyncs).toBeLessThanOrEqual(3);
    // No caller resolved before an fsync had covered it.
    expect(Math.min(...fsyncsSeen)).toBeGreaterThanOrEqual(1);
    await store.close();
    const reopened = open();
    expect(ids(await reopened.load())).toEqual(ids(all));
  });

  it("puts issued while a group is syncing join the next group", async () => {
    freshDir();
    const store = open();
    await store.load();
    const waves: Promise<void>[] = [];
    // Five waves of 200, each started a tick after the previous: at most one fsync per wave.
    for (let w = 0; w < 5; w++) {
      waves.push(...Array.from({ length: 200 }, (_, i) => store.put([record(w * 200 + i)])));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(waves);
    expect(store.stats.writes).toBe(1000);
    expect(store.stats.fsyncs).toBeLessThanOrEqual(5);
    expect(await store.load()).toHaveLength(1000);
  });

  it("keeps call order for writes made before and after the log opens", async () => {
    freshDir();
    const store = open();
    const calls = [store.put([record(1)]), store.put([record(2)])];
    // Issued once opening is under way, some after it has finished: order must hold regardless.
    for (let i = 0; i < 20; i++) {
      calls.push(store.delete([record(1).id]), store.put([record(1, { topic: `v${i}` })]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(calls);
    const loaded = await store.load();
    expect(loaded.map((r) => [r.id, r.topic])).toEqual([
      [record(1).id, "v19"],
      [record(2).id, "t/2"],
    ]);
  });

  it("a group larger than the write buffers: many frames, one fsync, every record back as written", async () => {
    freshDir();
    const store = open();
    await store.load();
    // ~6 MiB in one group: small records past the writer's buffers, one record larger than them,
    // an overwrite and deletes in the same group.
    const body = (i: number) => new Uint8Array(1500).fill(i & 0xff);
    const all = Array.from({ length: 4000 }, (_, i) =>
      record(i, { payload: i === 1234 ? new Uint8Array(1536 * 1024).fill(9) : body(i) }),
    );
    const fsyncsBefore = store.stats.fsyncs;
    await Promise.all([
      ...all.map((r) => store.put([r])),
      store.delete([record(7).id, record(3999).id]),
      store.put([record(8, { topic: "overwritten" })]),
    ]);
    expect(store.stats.fsyncs - fsyncsBefore).toBe(1);
    const expected = all
      .filter((r) => r.id !== record(7).id && r.id !== record(3999).id)
      .map((r) => (r.id === record(8).id ? record(8, { topic: "overwritten" }) : r));
    // Payloads as digests: comparing megabytes element by element would take seconds.
    const digest = (records: readonly OutboxRecord[]) =>
      records.map((r) => ({ ...r, payload: createHash("sha256").update(r.payload).digest("hex") }));
    expect(digest(await store.load())).toEqual(digest(expected));
    await store.close();
    const bytes = readFileSync(store.path);
    const header = readHeader(bytes);
    if (header.status !== "ok") throw new Error(`bad header: ${header.status}`);
    let frames = 0;
    for (let offset = header.header.size; offset < bytes.length; frames++) {
      const frame = readFrame(bytes, offset, header.header.framing);
      if (frame.status !== "ok") throw new Error(`frame at ${offset}: ${frame.status}`);
      offset += frame.size;
    }
    expect(frames).toBeGreaterThan(3);
    const reopened = open();
    expect(digest(await reopened.load())).toEqual(digest(expected));
    expect(reopened.corruption).toBeUndefined();
  });

  it("one bad record fails its own call only", async () => {
    freshDir();
    const store = open();
    await store.load();
    const bad = { ...record(2), payload: "not bytes" } as unknown as ReturnType<typeof record>;
    const results = await Promise.allSettled([
      store.put([record(1)]),
      store.put([bad]),
      store.put([record(3)]),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const error = (results[1] as PromiseRejectedResult).reason as GmqError;
    expect(error).toBeInstanceOf(GmqError);
    expect(error.code).toBe("invalid_argument");
    expect(error.field).toBe("records[0].payload");
    expect(ids(await store.load())).toEqual([record(1).id, record(3).id]);
  });
});

describe("file store: recovery", () => {
  /** Three records, each in its own frame (so the last frame holds only record 3). */
  const writeThree = async (): Promise<string> => {
    freshDir();
    const store = open();
    await store.load();
    for (const i of [1, 2, 3]) await store.put([record(i)]);
    await store.close();
    return store.path;
  };

  const reopenExpectingCut = async (path: string, reason: CorruptionInfo["reason"]): Promise<void> => {
    const { size: before } = await stat(path);
    const reports: CorruptionInfo[] = [];
    const store = open({ onCorruption: (info) => reports.push(info) });
    expect(ids(await store.load())).toEqual([record(1).id, record(2).id]);
    expect(reports).toHaveLength(1);
    const info = reports[0]!;
    expect(info.reason).toBe(reason);
    expect(info.path).toBe(path);
    expect(info.offset + info.bytesDropped).toBe(before);
    expect(store.corruption).toEqual(info);
    // The tail is truncated away, so the next append lands on a clean boundary.
    expect((await stat(path)).size).toBe(info.offset);
    await store.put([record(4)]);
    await store.close();
    const again = open({ onCorruption: (i) => reports.push(i) });
    expect(ids(await again.load())).toEqual([record(1).id, record(2).id, record(4).id]);
    expect(reports).toHaveLength(1);
    expect(again.corruption).toBeUndefined();
  };

  it("skips, reports and truncates a torn last frame", async () => {
    const path = await writeThree();
    const { size } = await stat(path);
    await truncate(path, size - 5);
    await reopenExpectingCut(path, "torn");
  });

  it("skips a half-written frame header at the end", async () => {
    const path = await writeThree();
    await appendFile(path, Buffer.from([40, 0, 0]));
    const reports: CorruptionInfo[] = [];
    const store = open({ onCorruption: (info) => reports.push(info) });
    expect(await store.load()).toHaveLength(3);
    expect(reports).toMatchObject([{ reason: "torn", bytesDropped: 3 }]);
  });

  it("skips, reports and truncates a last frame with a flipped byte", async () => {
    const path = await writeThree();
    const bytes = await readFile(path);
    bytes[bytes.length - 20]! ^= 0x10; // inside record 3's payload
    await writeFile(path, bytes);
    await reopenExpectingCut(path, "checksum");
  });

  it("starts over a file cut inside its header, and refuses a file that is not an outbox", async () => {
    freshDir();
    const path = join(dir, "outbox.log");
    await writeFile(path, Buffer.from("GMQ"));
    const reports: CorruptionInfo[] = [];
    const store = open({ onCorruption: (info) => reports.push(info) });
    expect(await store.load()).toEqual([]);
    expect(reports).toMatchObject([{ reason: "header", offset: 0, bytesDropped: 3 }]);
    await store.close();

    const foreign = join(dir, "foreign.log");
    await writeFile(foreign, "hello, world\n");
    const error = await open({ path: foreign })
      .load()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GmqError);
    expect(error).toMatchObject({ code: "storage", reason: "BAD_FORMAT" });
    expect(readFileSync(foreign, "utf8")).toBe("hello, world\n");
  });

  it("round-trips unicode, empty and awkward fields", async () => {
    freshDir();
    const store = open();
    await store.load();
    const odd = record(1, {
      topic: "čat/房间/🙂",
      payload: new Uint8Array(0),
      headers: { ключ: "значение" },
      key: "",
      retain: false,
      qos: 2,
    });
    // A header literally named "__proto__" (a literal would set the prototype instead).
    Object.defineProperty(odd.headers, "__proto__", { value: "x", enumerable: true });
    await store.put([odd]);
    await store.close();
    const [got] = await open().load();
    expect(got!.topic).toBe(odd.topic);
    expect(got!.payload).toBeInstanceOf(Uint8Array);
    expect(got!.payload.byteLength).toBe(0);
    expect(Object.keys(got!.headers!)).toEqual(Object.keys(odd.headers!));
    expect(Object.getPrototypeOf(got!.headers)).toBe(Object.prototype);
    expect(got!.headers!.ключ).toBe("значение");
    expect(Object.getOwnPropertyDescriptor(got!.headers, "__proto__")?.value).toBe("x");
    expect(got).toMatchObject({ key: "", retain: false, qos: 2 });
  });

  it("the native and portable CRC-32 agree with a bit-by-bit reference, any length, offset and seed", () => {
    const data = new TextEncoder().encode("The quick brown fox jumps over the lazy dog");
    expect(crc32(data)).toBe(0x414fa339);
    expect(crc32Portable(data)).toBe(0x414fa339);
    const reference = (bytes: Uint8Array, seed: number): number => {
      let c = ~seed;
      for (const byte of bytes) {
        c ^= byte;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      }
      return ~c >>> 0;
    };
    // The portable one folds 8 bytes at a time: every tail length, and views at odd offsets.
    const pool = Uint8Array.from({ length: 100 }, (_, i) => (i * 167 + 13) & 0xff);
    for (let length = 0; length <= 40; length++) {
      for (const offset of [0, 1, 3, 7]) {
        for (const seed of [0, 1, 0xdeadbeef, 0xffffffff]) {
          const bytes = pool.subarray(offset, offset + length);
          const want = reference(bytes, seed);
          expect(crc32Portable(bytes, seed)).toBe(want);
          expect(crc32(bytes, seed)).toBe(want);
        }
      }
    }
  });
});

describe("file store: compaction", () => {
  it("compacts automatically when dead frames dominate, keeping the live records", async () => {
    freshDir();
    const store = open({ compaction: { minBytes: 16 * 1024, deadRatio: 0.5 } });
    await store.load();
    const all = Array.from({ length: 400 }, (_, i) =>
      record(i, { payload: new Uint8Array(100).fill(i % 256) }),
    );
    await Promise.all(all.map((r) => store.put([r])));
    const full = (await stat(store.path)).size;
    expect(store.stats.compactions).toBe(0);
    // Delete 3 of every 4, one call each as the outbox does.
    const gone = all.filter((_, i) => i % 4 !== 0);
    await Promise.all(gone.map((r) => store.delete([r.id])));
    await store.load(); // lets the writer finish what it started
    expect(store.stats.compactions).toBeGreaterThanOrEqual(1);
    const compacted = (await stat(store.path)).size;
    expect(compacted).toBeLessThan(full / 2);
    expect(store.stats.fileBytes).toBe(compacted);
    const live = all.filter((_, i) => i % 4 === 0);
    expect(ids(await store.load())).toEqual(ids(live));
    // Appends after compaction go to the new file.
    await store.put([record(1000)]);
    await store.close();
    const reopened = open();
    const loaded = await reopened.load();
    expect(ids(loaded)).toEqual([...ids(live), record(1000).id]);
    expect(Array.from(loaded[1]!.payload)).toEqual(Array.from(live[1]!.payload));
  });

  it("compact() rewrites on demand and overwrites count as dead", async () => {
    freshDir();
    const store = open();
    await store.load();
    for (let round = 0; round < 5; round++) {
      await store.put(Array.from({ length: 50 }, (_, i) => record(i, { topic: `round ${round}` })));
    }
    const before = store.stats.fileBytes;
    expect(store.stats.liveBytes).toBeLessThan(before / 4);
    await store.compact();
    expect(store.stats.fileBytes).toBeLessThan(before / 4);
    expect((await stat(store.path)).size).toBe(store.stats.fileBytes);
    const loaded = await store.load();
    expect(loaded).toHaveLength(50);
    expect(loaded.every((r) => r.topic === "round 4")).toBe(true);
  });
});

describe("file store: crash", () => {
  let child: string;
  beforeAll(async () => {
    // Node 20 cannot run the TypeScript sources, so bundle the child with esbuild.
    const out = join(root, "child");
    await build({
      entryPoints: [fileURLToPath(new URL("./fixtures/file-store-writer.ts", import.meta.url))],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      outfile: join(out, "file-store-writer.mjs"),
      alias: { gmq: fileURLToPath(new URL("../src/index.ts", import.meta.url)) },
      logLevel: "error",
    });
    child = join(out, "file-store-writer.mjs");
  });

  it("keeps every acknowledged put of a process SIGKILLed mid-stream", async () => {
    freshDir();
    const path = join(dir, "outbox.log");
    const proc = spawn(process.execPath, [child, path], { stdio: ["ignore", "pipe", "inherit"] });
    const acked = new Set<string>();
    const deleteIssued = new Set<string>();
    const deleted = new Set<string>();
    let buffered = "";
    let ready = false;
    // "close", not "exit": only then has all of its stdout been read.
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      proc.on("close", (_code, signal) => resolve(signal)),
    );
    await new Promise<void>((resolve, reject) => {
      proc.on("exit", () => reject(new Error("child exited early")));
      proc.stdout.setEncoding("utf8");
      proc.stdout.on("data", (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        for (const line of lines) {
          if (line === "ready") ready = true;
          else if (line.startsWith("- ")) deleteIssued.add(line.slice(2));
          else if (line.startsWith("x ")) deleted.add(line.slice(2));
          else acked.add(line);
        }
        if (acked.size >= 3000) resolve();
      });
    });
    expect(ready).toBe(true);
    // While it runs, the outbox is its: we are locked out, with its pid in the message.
    const locked = await fileStore({ path })
      .load()
      .catch((e: unknown) => e);
    expect(locked).toMatchObject({ code: "storage", reason: "LOCKED" });
    expect((locked as GmqError).message).toContain(`process ${proc.pid}`);

    proc.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    expect(buffered).toBe(""); // every line the child wrote is complete

    const { size: sizeAtKill } = await stat(path);
    const reports: CorruptionInfo[] = [];
    let loaded: OutboxRecord[] = [];
    recordScenario(() => {
      // Acknowledged puts that no delete was issued for must all be there; puts still in flight
      // at the kill (written, their acknowledgement not yet printed) may be there too.
      const { unexpected, ...counts } = tally(
        [...acked].filter((id) => !deleteIssued.has(id)),
        loaded.map((r) => r.id).filter((id) => !deleteIssued.has(id)),
      );
      return {
        scenario: "file outbox: writer SIGKILLed mid-stream",
        injected: "SIGKILL of a process putting records in concurrent waves (with deletes)",
        ...counts,
        notes:
          `records (not messages) whose put was acknowledged; ${unexpected} more, in flight at the ` +
          `kill, were kept too; ${deleted.size} acknowledged deletes stay deleted`,
      };
    });
    const store = open({ onCorruption: (info) => reports.push(info) });
    loaded = await store.load(); // also takes over the dead child's lock
    const byId = new Map(loaded.map((r) => [r.id, r]));
    for (const id of acked) {
      if (deleteIssued.has(id)) continue;
      expect(byId.has(id), `acknowledged ${id} survives`).toBe(true);
    }
    for (const id of deleted) expect(byId.has(id), `deleted ${id} stays deleted`).toBe(false);
    // Nothing corrupt comes back: every record is exactly what the child wrote.
    for (const r of loaded) {
      const i = Number(r.id.slice(3));
      expect(new TextDecoder().decode(r.payload)).toBe(`payload ${i} `.repeat(1 + (i % 7)));
      expect(r.topic).toBe(`t/${i % 5}`);
    }
    // A torn tail, if the kill landed mid-write, is the only thing cut; the log is clean after.
    for (const info of reports) expect(info.offset + info.bytesDropped).toBe(sizeAtKill);
    await store.put([record(99_999_999)]);
    await store.close();
    const again = open({ onCorruption: (info) => reports.push(info) });
    expect((await again.load()).length).toBe(loaded.length + 1);
    expect(again.corruption).toBeUndefined();
  }, 30_000);
});
