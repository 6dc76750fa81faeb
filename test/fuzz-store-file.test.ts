/**
 * Fuzzing the file outbox's record format and its recovery. Frames round-trip any record; no
 * bytes make the frame reader throw; and whatever random damage a log takes (flipped bytes,
 * overwritten or zeroed stretches, a cut, garbage appended), recovery keeps exactly the state of
 * the frames left intact: nothing intact lost, nothing damaged or invented let through, the file
 * never cut before its last intact frame.
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import type { OutboxRecord } from "gmq";
import { afterAll, describe, expect, it } from "vitest";
import { type Framing, newHeader } from "../adapters/store-file/file-header.js";
import { encodeFrames, FRAME_HEADER_SIZE, type LogOp, readFrame } from "../adapters/store-file/format.js";
import { type CorruptionInfo, fileStore } from "../adapters/store-file/index.js";
import { type LiveEntry, replay } from "../adapters/store-file/recovery.js";
import { FuzzTally, fuzz, fuzzAsync } from "./support/fuzz.js";

const text = fc.string({ unit: "binary", maxLength: 24 });
const headerName = fc.oneof(text, fc.constantFrom("__proto__", "constructor", ""));
/** Any record the store accepts; ids from a small pool, so overwrites and deletes collide. */
const record = (ids: fc.Arbitrary<string>): fc.Arbitrary<OutboxRecord> =>
  fc
    .record(
      {
        id: ids,
        topic: text,
        payload: fc.uint8Array({ maxLength: 120 }),
        qos: fc.constantFrom(1 as const, 2 as const),
        createdAt: fc.double(),
        expiresAt: fc.double(),
        key: text,
        retain: fc.boolean(),
        headers: fc.array(fc.tuple(headerName, text), { maxLength: 4 }),
      },
      { requiredKeys: ["id", "topic", "payload", "qos", "createdAt"] },
    )
    .map(({ headers, ...rest }) => {
      if (!headers) return rest;
      const out: Record<string, string> = {};
      for (const [name, value] of headers) {
        Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
      }
      return { ...rest, headers: out };
    });

const anyId = fc.string({ unit: "binary", maxLength: 30 });
const poolId = fc.constantFrom("a", "b", "c", "d", "e", "f", "ü", "🙂");
const op: fc.Arbitrary<LogOp> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .array(record(poolId), { minLength: 1, maxLength: 3 })
      .map((records) => ({ type: "put" as const, records })),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(poolId, { minLength: 1, maxLength: 3 })
      .map((ids) => ({ type: "delete" as const, ids })),
  },
);

/** Comparable form of a record (headers as entries, so "__proto__" counts like any name). */
const plain = (r: OutboxRecord) => ({
  ...r,
  payload: Array.from(r.payload),
  headers: r.headers && Object.entries(r.headers),
});
const state = (live: ReadonlyMap<string, LiveEntry>) => [...live.values()].map((e) => plain(e.record));
/** A record as text, keys sorted: equal records give equal text. */
const canon = (r: OutboxRecord): string => {
  const p: Record<string, unknown> = plain(r);
  const keys = Object.keys(p).filter((k) => p[k] !== undefined);
  return JSON.stringify(keys.sort().map((k) => [k, p[k]]));
};

/** A log of `ops`, one frame each, and where each frame sits. */
function buildLog(ops: readonly LogOp[]) {
  const { bytes: header, header: info } = newHeader();
  const parts: Buffer[] = [header];
  const frames: { start: number; end: number; op: LogOp }[] = [];
  let at = header.length;
  for (const o of ops) {
    const { bytes } = encodeFrames([o], info.framing.seed);
    frames.push({ start: at, end: at + bytes.length, op: o });
    parts.push(Buffer.from(bytes));
    at += bytes.length;
  }
  return { bytes: Buffer.concat(parts), header: info, frames };
}

/** The live set a replay of only these ops gives. */
function applyOps(ops: readonly LogOp[]): Map<string, OutboxRecord> {
  const live = new Map<string, OutboxRecord>();
  for (const o of ops) {
    if (o.type === "put") for (const r of o.records) live.set(r.id, r);
    else for (const id of o.ids) live.delete(id);
  }
  return live;
}

type Damage =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "overwrite"; at: number; bytes: Uint8Array }
  | { kind: "zero"; at: number; length: number }
  | { kind: "cut"; at: number }
  | { kind: "append"; bytes: Uint8Array };
const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({
    kind: fc.constant("overwrite" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  }),
  fc.record({ kind: fc.constant("zero" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 600 }) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("append" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 60 }) }),
);

/** Applies damage to the frames (the file header is left alone: it has its own test). */
function damaged(original: Buffer, headerSize: number, damages: readonly Damage[]): Buffer {
  let bytes = Buffer.from(original);
  const span = () => Math.max(1, bytes.length - headerSize);
  for (const d of damages) {
    if (bytes.length <= headerSize && d.kind !== "append") continue;
    const at = headerSize + (("at" in d ? d.at : 0) % span());
    if (d.kind === "flip") bytes[at]! ^= 1 << d.bit;
    else if (d.kind === "overwrite") bytes.set(d.bytes.subarray(0, bytes.length - at), at);
    else if (d.kind === "zero") bytes.fill(0, at, Math.min(bytes.length, at + d.length));
    else if (d.kind === "cut") bytes = bytes.subarray(0, at);
    else bytes = Buffer.concat([bytes, d.bytes]);
  }
  return bytes;
}

describe("fuzz: the file outbox format", () => {
  it("frames round-trip any record and any delete", () => {
    const tally = new FuzzTally();
    fuzz(
      1000,
      fc.array(
        fc.oneof(
          fc
            .array(record(anyId), { minLength: 1, maxLength: 4 })
            .map((records) => ({ type: "put" as const, records })),
          fc.array(anyId, { minLength: 1, maxLength: 4 }).map((ids) => ({ type: "delete" as const, ids })),
        ),
        { minLength: 1, maxLength: 4 },
      ),
      fc.integer({ min: 0, max: 0xffff_ffff }),
      (ops: LogOp[], seed) => {
        tally.inputs++;
        const { bytes } = encodeFrames(ops, seed);
        const frame = readFrame(Buffer.from(bytes), 0, { version: 2, seed });
        expect(frame.status).toBe("ok");
        const expected = ops.flatMap((o): unknown[] =>
          o.type === "put" ? o.records.map(plain) : [...o.ids],
        );
        const got = (frame as { entries: (OutboxRecord | string)[] }).entries.map((e) =>
          typeof e === "string" ? e : plain(e),
        );
        expect(got).toEqual(expected);
        tally.accepted++;
        tally.roundTrips++;
      },
    );
    tally.record(
      "file outbox frames, encode → decode",
      "random records (unicode, __proto__ headers, NaN/∞ times) and deletes",
      "—",
    );
  });

  it("the frame reader never throws on arbitrary bytes", () => {
    const tally = new FuzzTally();
    const framing: fc.Arbitrary<Framing> = fc.oneof(
      fc.record({ version: fc.constant(2 as const), seed: fc.integer({ min: 0, max: 0xffff_ffff }) }),
      fc.constant({ version: 1 as const, seed: 0 }),
    );
    fuzz(5000, fc.uint8Array({ maxLength: 200 }), fc.nat(40), framing, (bytes, offset, f) => {
      tally.inputs++;
      const result = readFrame(Buffer.from(bytes), Math.min(offset, bytes.length), f);
      if (result.status === "ok") tally.accepted++;
      else tally.rejected++;
    });
    tally.record(
      "file outbox frame reader",
      "random bytes at random offsets, both formats",
      "torn / framing / checksum / malformed",
    );
  });
});

describe("fuzz: file outbox recovery under random damage", () => {
  it("keeps exactly the state of the intact frames", () => {
    const tally = new FuzzTally();
    let framesDamaged = 0;
    let framesKept = 0;
    fuzz(
      2000,
      fc.array(op, { minLength: 1, maxLength: 25 }),
      fc.array(damage, { minLength: 0, maxLength: 4 }),
      (ops, damages) => {
        tally.inputs++;
        const log = buildLog(ops);
        const bytes = damaged(log.bytes, log.header.size, damages);
        const intact = log.frames.filter(
          (f) =>
            f.end <= bytes.length &&
            bytes.subarray(f.start, f.end).equals(log.bytes.subarray(f.start, f.end)),
        );
        const result = replay(bytes, log.header);
        expect(state(result.live)).toEqual([...applyOps(intact.map((f) => f.op)).values()].map(plain));
        // Never cut before the last intact frame; report anything that is not intact.
        expect(result.end).toBe(Math.max(log.header.size, ...intact.map((f) => f.end)));
        // Reported: any bytes past the last intact frame, or a damaged frame before it. (A cut that
        // lands exactly between frames leaves a shorter, valid log: nothing there to see.)
        const lastEnd = Math.max(log.header.size, ...intact.map((f) => f.end));
        const clean =
          bytes.length === lastEnd && log.frames.every((f) => f.start >= lastEnd || intact.includes(f));
        expect(result.regions.length > 0).toBe(!clean);
        framesDamaged += log.frames.length - intact.length;
        framesKept += intact.length;
        if (clean) tally.accepted++;
        else tally.rejected++;
      },
    );
    tally.record(
      "file outbox recovery (random damage)",
      "random logs (overwrites, deletes, shared ids) with flipped bits, overwritten/zeroed stretches, cuts, appended garbage",
      `damaged and reported logs; ${framesKept.toLocaleString("en-US")} intact frames all kept, ${framesDamaged.toLocaleString("en-US")} damaged frames all dropped`,
    );
  });

  it("format 1 logs: the same, by scanning", () => {
    const tally = new FuzzTally();
    fuzz(
      1000,
      fc.array(op, { minLength: 1, maxLength: 15 }),
      fc.array(damage, { minLength: 1, maxLength: 3 }),
      (ops, damages) => {
        tally.inputs++;
        const parts: Buffer[] = [Buffer.from([0x47, 0x4d, 0x51, 0x4f, 0x42, 0x58, 0x00, 0x01])];
        const frames: { start: number; end: number; op: LogOp }[] = [];
        let at = 8;
        for (const o of ops) {
          const v2 = Buffer.from(encodeFrames([o], 0).bytes);
          const v1 = Buffer.concat([Buffer.alloc(8), v2.subarray(12)]);
          v1.writeUInt32LE(v2.length - FRAME_HEADER_SIZE, 0);
          v1.writeUInt32LE(v2.readUInt32LE(8), 4); // the body CRC is the same, from seed 0
          frames.push({ start: at, end: at + v1.length, op: o });
          parts.push(v1);
          at += v1.length;
        }
        const original = Buffer.concat(parts);
        const bytes = damaged(original, 8, damages);
        const intact = frames.filter(
          (f) =>
            f.end <= bytes.length && bytes.subarray(f.start, f.end).equals(original.subarray(f.start, f.end)),
        );
        const result = replay(bytes, { framing: { version: 1, seed: 0 }, size: 8 });
        expect(state(result.live)).toEqual([...applyOps(intact.map((f) => f.op)).values()].map(plain));
        tally.accepted++;
      },
    );
    tally.record("file outbox recovery, format 1 (random damage)", "random v1 logs with random damage", "—");
  });

  const root = mkdtempSync(join(tmpdir(), "gmq-fuzz-store-"));
  afterAll(() => rm(root, { recursive: true, force: true }));
  let n = 0;

  it("through the store: opens with the intact records, and the repair sticks", async () => {
    const tally = new FuzzTally();
    await fuzzAsync(
      60,
      fc.array(op, { minLength: 1, maxLength: 12 }),
      fc.array(damage, { minLength: 1, maxLength: 3 }),
      async (ops, damages) => {
        tally.inputs++;
        const dir = join(root, `r${n++}`);
        mkdirSync(dir);
        const path = join(dir, "outbox.log");
        const writer = fileStore({ path });
        await writer.load();
        for (const o of ops) await (o.type === "put" ? writer.put(o.records) : writer.delete(o.ids));
        await writer.close();
        const original = await readFile(path);
        const header = original.readUInt8(7) === 2 ? 32 : 8;
        const bytes = damaged(original, header, damages);
        await writeFile(path, bytes);
        const reports: CorruptionInfo[] = [];
        const store = fileStore({ path, onCorruption: (info) => reports.push(info) });
        try {
          const loaded = await store.load();
          // Every record it returns is one that was written (no garbage), and the open is final.
          const written = new Set<string>();
          for (const o of ops) if (o.type === "put") for (const r of o.records) written.add(canon(r));
          for (const r of loaded) expect(written.has(canon(r))).toBe(true);
          await store.close();
          const again = fileStore({ path, onCorruption: (info) => reports.push(info) });
          expect((await again.load()).map(plain)).toEqual(loaded.map(plain));
          await again.close();
          expect(reports.length).toBeLessThanOrEqual(1);
          if (reports.length === 0) tally.accepted++;
          else tally.rejected++;
        } finally {
          await store.close();
        }
      },
    );
    tally.record(
      "file outbox open (real files, random damage)",
      "logs written by the store, then damaged on disk",
      "damaged and reported",
    );
  }, 60_000);
});
