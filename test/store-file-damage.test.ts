/**
 * A damaged file outbox keeps every intact record: a damaged frame in the middle is skipped (at
 * its end when its length can be trusted, else by scanning for the next frame whose checksums
 * hold), a torn tail is cut, everything dropped is reported, and the log is rewritten without the
 * damage. A frame forged inside a payload is never taken for one of the log's own.
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OutboxRecord } from "gmq";
import { record } from "gmq/contract";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { crc32 } from "../adapters/store-file/crc32.js";
import { readHeader } from "../adapters/store-file/file-header.js";
import { encodeFrames, FRAME_HEADER_SIZE, readFrame } from "../adapters/store-file/format.js";
import { type CorruptionInfo, type FileOutboxStore, fileStore } from "../adapters/store-file/index.js";
import { GmqError } from "../src/errors.js";
import { recordScenario, tally } from "./support/reliability.js";

const root = mkdtempSync(join(tmpdir(), "gmq-store-damage-"));
let n = 0;
const freshPath = (): string => {
  const dir = join(root, `t${n++}`);
  mkdirSync(dir, { recursive: true });
  return join(dir, "outbox.log");
};
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const opened: FileOutboxStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close().catch(() => {});
});

/** Opens `path`, collecting what recovery reports. */
function open(path: string): { store: FileOutboxStore; reports: CorruptionInfo[] } {
  const reports: CorruptionInfo[] = [];
  const store = fileStore({ path, onCorruption: (info) => reports.push(info) });
  opened.push(store);
  return { store, reports };
}

const ids = (records: readonly { id: string }[]): string[] => records.map((r) => r.id);
/** A payload that can be found in the file. */
const marked = (i: number): Uint8Array =>
  new TextEncoder().encode(`<<record ${i} payload ${"x".repeat(40)}>>`);

/** Writes records 1..count, one put (so one frame) each; returns the path and the frames. */
async function writeLog(count: number, payload: (i: number) => Uint8Array = marked) {
  const path = freshPath();
  const { store } = open(path);
  await store.load();
  const written: OutboxRecord[] = [];
  for (let i = 1; i <= count; i++) {
    const r = record(i, { payload: payload(i) });
    written.push(r);
    await store.put([r]);
  }
  await store.close();
  return { path, written, frames: await framesOf(path) };
}

/** Offsets and sizes of the frames of an intact log. */
async function framesOf(path: string): Promise<{ offset: number; size: number }[]> {
  const bytes = await readFile(path);
  const header = readHeader(bytes);
  if (header.status !== "ok") throw new Error(`bad header: ${header.status}`);
  const out: { offset: number; size: number }[] = [];
  let offset = header.header.size;
  while (offset < bytes.length) {
    const frame = readFrame(bytes, offset, header.header.framing);
    if (frame.status !== "ok") throw new Error(`frame at ${offset}: ${frame.status}`);
    out.push({ offset, size: frame.size });
    offset += frame.size;
  }
  return out;
}

async function damage(path: string, change: (bytes: Buffer) => void): Promise<void> {
  const bytes = await readFile(path);
  change(bytes);
  await writeFile(path, bytes);
}

/** Reopens a damaged log and checks that the repair sticks: a second open reports nothing. */
async function reopen(path: string) {
  const first = open(path);
  const loaded = await first.store.load();
  await first.store.put([record(100)]);
  await first.store.close();
  const second = open(path);
  const again = await second.store.load();
  expect(second.reports).toEqual([]);
  expect(ids(again)).toEqual([...ids(loaded), record(100).id]);
  return { loaded, reports: first.reports };
}

describe("file outbox: damage in the middle", () => {
  it("one byte flipped in the payload of record 2 of 4: records 1, 3 and 4 survive", async () => {
    const { path, written, frames } = await writeLog(4);
    await damage(path, (bytes) => {
      bytes[bytes.indexOf(Buffer.from(marked(2))) + 10]! ^= 0x01;
    });
    const { loaded, reports } = await reopen(path);
    expect(ids(loaded)).toEqual([1, 3, 4].map((i) => record(i).id));
    // Exactly as written: nothing garbled slipped through.
    for (const r of loaded) expect(r).toEqual(written.find((w) => w.id === r.id));
    expect(reports).toEqual([
      {
        path,
        offset: frames[1]!.offset,
        bytesDropped: frames[1]!.size,
        reason: "checksum",
        regions: [{ offset: frames[1]!.offset, bytes: frames[1]!.size, reason: "checksum", tail: false }],
        recordsKept: 3,
      },
    ]);
    recordScenario({
      scenario: "file outbox: one byte flipped in record 2 of 4",
      injected: "a payload byte of the 2nd of 4 acknowledged records flipped, then reopened",
      ...tally(ids(written), ids(loaded)),
      notes: "the damaged record is reported (checksum) and skipped; the log is rewritten without it",
    });
  });

  for (const [name, newLength] of [
    ["past the end of the file", () => 0x7fff_0000],
    ["into the middle of record 3", (frames: { offset: number; size: number }[]) => frames[1]!.size + 20],
    ["to zero", () => 0],
  ] as const) {
    it(`record 2's length damaged to point ${name}: the scan resumes at record 3`, async () => {
      const { path, written, frames } = await writeLog(4);
      await damage(path, (bytes) => bytes.writeUInt32LE(newLength(frames), frames[1]!.offset + 4));
      const { loaded, reports } = await reopen(path);
      expect(ids(loaded)).toEqual([1, 3, 4].map((i) => record(i).id));
      expect(reports[0]!.regions).toEqual([
        { offset: frames[1]!.offset, bytes: frames[1]!.size, reason: "framing", tail: false },
      ]);
      recordScenario({
        scenario: `file outbox: record 2's length pointing ${name}`,
        injected: "the length field of the 2nd of 4 frames overwritten, then reopened",
        kind: "hostile input",
        ...tally(ids(written), ids(loaded)),
        notes: "frame header checksum fails; resynchronised on the next frame whose checksums hold",
      });
    });
  }

  it("a zeroed 4 KiB block across records 2 and 3 of 60 loses only the frames it touches", async () => {
    const { path, written, frames } = await writeLog(60, (i) => new Uint8Array(100).fill(i));
    const start = frames[1]!.offset + 7;
    await damage(path, (bytes) => bytes.fill(0, start, start + 4096));
    const touched = frames.filter((f) => f.offset < start + 4096 && f.offset + f.size > start);
    expect(touched.length).toBeGreaterThan(2);
    const { loaded, reports } = await reopen(path);
    const lostIds = touched.map((f) => written[frames.indexOf(f)]!.id);
    expect(ids(loaded)).toEqual(ids(written).filter((id) => !lostIds.includes(id)));
    const region = reports[0]!.regions[0]!;
    expect(region.offset).toBe(touched[0]!.offset);
    expect(region.offset + region.bytes).toBe(touched.at(-1)!.offset + touched.at(-1)!.size);
    recordScenario({
      scenario: "file outbox: a 4 KiB block zeroed mid-log",
      injected: "4096 zero bytes written over records 2 onwards of 60 (a lost sector)",
      ...tally(ids(written), ids(loaded)),
      notes: `the ${touched.length} records the block touched are reported lost; every other record is kept`,
    });
  });

  it("damage in the middle and a torn tail: the middle is skipped, the tail cut, the rest kept", async () => {
    const { path, written, frames } = await writeLog(5);
    const { size } = await stat(path);
    await damage(path, (bytes) => {
      bytes[bytes.indexOf(Buffer.from(marked(2))) + 3]! ^= 0x80;
    });
    await writeFile(path, (await readFile(path)).subarray(0, size - 7)); // record 5 torn
    const { loaded, reports } = await reopen(path);
    expect(ids(loaded)).toEqual([1, 3, 4].map((i) => record(i).id));
    expect(reports[0]!.regions).toEqual([
      { offset: frames[1]!.offset, bytes: frames[1]!.size, reason: "checksum", tail: false },
      { offset: frames[4]!.offset, bytes: frames[4]!.size - 7, reason: "torn", tail: true },
    ]);
    expect(reports[0]!.bytesDropped).toBe(frames[1]!.size + frames[4]!.size - 7);
    recordScenario({
      scenario: "file outbox: damage mid-log plus a torn tail",
      injected: "a flipped bit in record 2 of 5 and the last record cut short",
      ...tally(ids(written), ids(loaded)),
      notes: "record 5 was never acknowledged in a real crash (torn); record 2 is reported",
    });
  });

  it("a damaged frame that held an overwrite or a delete leaves the state before it", async () => {
    const path = freshPath();
    const { store } = open(path);
    await store.load();
    await store.put([record(1, { topic: "old" }), record(2)]);
    await store.put([record(1, { topic: "new", payload: marked(1) })]); // frame 2: an overwrite
    await store.delete([record(2).id]); // frame 3: a delete
    await store.put([record(3)]);
    await store.close();
    const frames = await framesOf(path);
    await damage(path, (bytes) => {
      bytes[bytes.indexOf(Buffer.from(marked(1))) + 1]! ^= 0x04; // frame 2
      bytes[frames[2]!.offset + FRAME_HEADER_SIZE + 2]! ^= 0x04; // frame 3's delete
    });
    const { loaded } = await reopen(path);
    expect(loaded.map((r) => [r.id, r.topic])).toEqual([
      [record(1).id, "old"],
      [record(2).id, "t/2"],
      [record(3).id, "t/3"],
    ]);
  });
});

describe("file outbox: forged frames and duplicated frames", () => {
  it("a frame forged inside a payload is not taken for a frame when the scan passes over it", async () => {
    // Record 2's payload holds whole frames of another outbox log (other salt) and a v1-style
    // frame (no salt), each putting a record that was never put here.
    const forged = record(999, { topic: "forged" });
    const otherSalt = encodeFrames([{ type: "put", records: [forged] }], 0x1234_5678).bytes;
    const noSalt = encodeFrames([{ type: "put", records: [forged] }], 0).bytes;
    const v1 = v1Frame(noSalt.subarray(FRAME_HEADER_SIZE));
    const payload = Buffer.concat([Buffer.from("junk"), otherSalt, noSalt, v1, Buffer.from("junk")]);
    const { path, written, frames } = await writeLog(4, (i) => (i === 2 ? payload : marked(i)));
    // Undamaged, the forgery is only a payload.
    const intact = open(path);
    expect((await intact.store.load())[1]!.payload).toEqual(new Uint8Array(payload));
    await intact.store.close();
    // Record 2's length damaged: the scan must walk through its payload.
    await damage(path, (bytes) => bytes.writeUInt32LE(3, frames[1]!.offset + 4));
    const { loaded, reports } = await reopen(path);
    expect(ids(loaded)).toEqual([1, 3, 4].map((i) => record(i).id));
    expect(reports[0]!.regions).toEqual([
      { offset: frames[1]!.offset, bytes: frames[1]!.size, reason: "framing", tail: false },
    ]);
    recordScenario({
      scenario: "file outbox: frames forged inside a payload, scanned over",
      injected:
        "record 2 of 4 carries whole frames of another log, unsalted and v1; its length is then damaged",
      kind: "hostile input",
      ...tally(ids(written), ids(loaded)),
      notes: "no forged record recovered: frame checksums are seeded with the file's random salt",
    });
  });

  it("a frame copied to the end of the log replays as a put of the same ids (no duplicates)", async () => {
    const { path, written, frames } = await writeLog(3);
    const bytes = await readFile(path);
    const copy = bytes.subarray(frames[0]!.offset, frames[0]!.offset + frames[0]!.size);
    await writeFile(path, Buffer.concat([bytes, copy]));
    const { loaded, reports } = await reopen(path);
    expect(reports).toEqual([]);
    expect(ids(loaded)).toEqual(ids(written));
  });
});

describe("file outbox: limits", () => {
  it("a damaged 4 MiB frame full of decoy frame headers is scanned past, keeping the rest", async () => {
    // Every 13 bytes a plausible header (type byte 1, a length that fits): the scan must test each
    // in constant time, or recovery would take quadratic time on such a payload.
    const decoys = Buffer.alloc(4 * 1024 * 1024);
    for (let at = 0; at + 13 <= decoys.length; at += 13) {
      decoys.writeUInt32LE(at & 0xffff, at + 4);
      decoys[at + 12] = 1;
    }
    const { path, written, frames } = await writeLog(4, (i) => (i === 2 ? decoys : marked(i)));
    await damage(path, (bytes) => bytes.writeUInt32LE(7, frames[1]!.offset + 4));
    const { loaded, reports } = await reopen(path);
    expect(ids(loaded)).toEqual([1, 3, 4].map((i) => record(i).id));
    expect(reports[0]!.regions).toEqual([
      { offset: frames[1]!.offset, bytes: frames[1]!.size, reason: "framing", tail: false },
    ]);
    recordScenario({
      scenario: "file outbox: a damaged 4 MiB frame full of decoy frame headers",
      injected: "record 2 of 4 is 4 MiB of fake frame headers; its length is damaged, forcing a scan",
      kind: "limit",
      ...tally(ids(written), ids(loaded)),
      notes: "scanned in linear time (one byte and a 9-byte CRC per offset); the other records kept",
    });
  });
});

describe("file outbox: the file header", () => {
  it("one damaged salt copy is survived; both damaged refuse to open and leave the file alone", async () => {
    const { path, written } = await writeLog(3);
    await damage(path, (bytes) => {
      bytes[9]! ^= 0xff; // first salt copy
    });
    const one = open(path);
    expect(ids(await one.store.load())).toEqual(ids(written));
    await one.store.close();
    await damage(path, (bytes) => {
      bytes[8 + 12 + 3]! ^= 0xff; // and now the second
    });
    const before = await readFile(path);
    const error = await open(path)
      .store.load()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GmqError);
    expect(error).toMatchObject({ code: "storage", reason: "CORRUPT" });
    expect((error as GmqError).message).toContain("move it aside");
    expect(await readFile(path)).toEqual(before);
  });

  it("a log from a newer gmq is refused, untouched", async () => {
    const path = freshPath();
    const bytes = Buffer.from("GMQOBX\u0000\u0009 and then whatever a newer format holds");
    await writeFile(path, bytes);
    const error = await open(path)
      .store.load()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "storage", reason: "BAD_FORMAT" });
    expect((error as GmqError).message).toContain("newer");
    expect(await readFile(path)).toEqual(bytes);
  });
});

describe("file outbox: format 1 logs", () => {
  /** A v1 log: 8-byte header, frames of length crc type body, CRCs from 0. */
  async function writeV1(records: OutboxRecord[]): Promise<{ path: string; offsets: number[] }> {
    const path = freshPath();
    const parts: Buffer[] = [Buffer.from([0x47, 0x4d, 0x51, 0x4f, 0x42, 0x58, 0x00, 0x01])];
    const offsets: number[] = [];
    let at = 8;
    for (const r of records) {
      const v2 = encodeFrames([{ type: "put", records: [r] }], 0).bytes;
      const frame = v1Frame(v2.subarray(FRAME_HEADER_SIZE));
      offsets.push(at);
      at += frame.length;
      parts.push(frame);
    }
    await writeFile(path, Buffer.concat(parts));
    return { path, offsets };
  }

  it("are read and rewritten in the current format", async () => {
    const written = [1, 2, 3].map((i) => record(i, { payload: marked(i) }));
    const { path } = await writeV1(written);
    const { loaded, reports } = await reopen(path);
    expect(reports).toEqual([]);
    expect(loaded).toEqual(written);
    expect((await readFile(path))[7]).toBe(2);
  });

  it("keep every intact record around a damaged one", async () => {
    const written = [1, 2, 3, 4].map((i) => record(i, { payload: marked(i) }));
    const { path } = await writeV1(written);
    await damage(path, (bytes) => {
      bytes[bytes.indexOf(Buffer.from(marked(2))) + 5]! ^= 0x10;
    });
    const { loaded, reports } = await reopen(path);
    expect(ids(loaded)).toEqual([1, 3, 4].map((i) => record(i).id));
    expect(reports[0]).toMatchObject({ reason: "checksum", recordsKept: 3 });
  });

  it("keep every intact record around a damaged length, found again by scanning", async () => {
    const written = [1, 2, 3, 4].map((i) => record(i, { payload: marked(i) }));
    const { path, offsets } = await writeV1(written);
    await damage(path, (bytes) => bytes.writeUInt32LE(0xffff, offsets[1]!));
    const { loaded, reports } = await reopen(path);
    expect(ids(loaded)).toEqual([1, 3, 4].map((i) => record(i).id));
    expect(reports[0]!.regions).toEqual([
      { offset: offsets[1]!, bytes: offsets[2]! - offsets[1]!, reason: "framing", tail: false },
    ]);
  });
});

/** Wraps a frame body (type byte excluded) as a v1 frame. */
function v1Frame(body: Uint8Array): Buffer {
  const typed = Buffer.concat([Buffer.from([1]), body]);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(body.length, 0);
  head.writeUInt32LE(crc32(typed), 4);
  return Buffer.concat([head, typed]);
}
