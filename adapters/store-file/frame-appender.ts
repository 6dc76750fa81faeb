/**
 * Appends a group's frames to the log through two reusable buffers: one is filled while the other
 * is being written (the write runs on libuv's thread pool), so encoding a large group overlaps
 * writing it, the memory a group needs stays bounded whatever its size, and the buffers stay warm
 * in the CPU cache instead of being fresh pages (page faults, cache misses, GC pressure) for every
 * group. Nothing is synced here: the caller syncs once the whole group is written.
 */
import type { FileHandle } from "node:fs/promises";
import { writeAll } from "./compaction.js";
import { FrameEncoder, type LogOp } from "./format.js";

/** What the buffers start at, so a store writing a few records at a time holds little. */
const FIRST_CHUNK = 64 * 1024;
/** What they grow to for large groups (a frame's size, bar a record larger than this). */
export const CHUNK_SIZE = 1024 * 1024;

export interface Appended {
  /** Bytes written at the position given. */
  readonly bytes: number;
  /** For every put record in order, the bytes it takes in the log. */
  readonly putSizes: number[];
}

export class FrameAppender {
  private readonly buffers: Buffer[] = [];

  /** Writes `ops` as frames at `position`. On failure, part of them may have been written. */
  async append(handle: FileHandle, ops: readonly LogOp[], seed: number, position: number): Promise<Appended> {
    const encoder = new FrameEncoder(ops, seed);
    let writing: Promise<void> | undefined;
    let at = position;
    let turn = 0;
    try {
      do {
        const buf = this.buffer(turn);
        const frame = encoder.next(buf);
        // More than this buffer holds: it grows for next time (the frame is written from the old one).
        if (!encoder.done || frame.buffer !== buf.buffer) this.grow(turn, frame.length);
        // The other buffer's write, before the next write starts and before that buffer is refilled.
        await writing;
        writing = writeAll(handle, frame, at);
        at += frame.length;
        turn ^= 1;
      } while (!encoder.done);
      await writing;
    } finally {
      // Never return (or fail) while a write still reads from a buffer the next group will refill.
      await writing?.catch(() => {});
    }
    return { bytes: at - position, putSizes: encoder.putSizes };
  }

  private buffer(turn: number): Buffer {
    this.buffers[turn] ??= Buffer.allocUnsafe(FIRST_CHUNK);
    return this.buffers[turn]!;
  }

  private grow(turn: number, needed: number): void {
    const size = this.buffers[turn]!.length;
    if (size < CHUNK_SIZE)
      this.buffers[turn] = Buffer.allocUnsafe(Math.min(CHUNK_SIZE, Math.max(size * 4, needed)));
  }
}
