/**
 * The TCP connection's input, read the way upstream's bufio.Reader is: a line at a time, then
 * exact byte counts for items, and nothing further until the current command asks. Bytes that
 * arrive early wait here (the socket is paused when too much piles up and nobody is reading).
 */

import { Buffer } from "node:buffer";

/** io.ReadFull's errors, which upstream sends back as `E_INVALID_READ - <text>`. */
export class ReadError extends Error {}

export interface FlowControl {
  pause(): void;
  resume(): void;
}

export class ByteReader {
  #chunks: Buffer[] = [];
  #length = 0;
  /** Bytes at the front already known to hold no newline. */
  #scanned = 0;
  #eof = false;
  #wake: (() => void) | undefined;

  constructor(
    private readonly flow: FlowControl,
    private readonly highWater = 64 * 1024,
  ) {}

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    if (this.#length > this.highWater && !this.#wake) this.flow.pause();
    this.wake();
  }

  end(): void {
    this.#eof = true;
    this.wake();
  }

  /** The peer sent FIN. */
  get ended(): boolean {
    return this.#eof;
  }

  get buffered(): number {
    return this.#length;
  }

  /**
   * The next line without its `\n` (and a `\r` before it), like bufio's ReadLine; at end of input
   * the unterminated rest counts as a line, and null means nothing is left.
   */
  async readLine(): Promise<Buffer | null> {
    for (;;) {
      const at = this.indexOfNewline();
      if (at >= 0) {
        const line = this.take(at + 1);
        const end = line.length >= 2 && line[line.length - 2] === 0x0d ? line.length - 2 : line.length - 1;
        return line.subarray(0, end);
      }
      if (this.#eof) return this.#length > 0 ? this.take(this.#length) : null;
      await this.more();
    }
  }

  async readFull(n: number): Promise<Buffer> {
    while (this.#length < n) {
      if (this.#eof) throw new ReadError(this.#length === 0 ? "EOF" : "unexpected EOF");
      await this.more();
    }
    return this.take(n);
  }

  async readU32(): Promise<number> {
    return (await this.readFull(4)).readUInt32BE(0);
  }

  private more(): Promise<void> {
    this.flow.resume();
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  private wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  private indexOfNewline(): number {
    let offset = 0;
    for (const chunk of this.#chunks) {
      if (offset + chunk.length > this.#scanned) {
        const from = Math.max(0, this.#scanned - offset);
        const i = chunk.indexOf(0x0a, from);
        if (i >= 0) return offset + i;
      }
      offset += chunk.length;
    }
    this.#scanned = this.#length;
    return -1;
  }

  private take(n: number): Buffer {
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const head = this.#chunks[0]!;
      if (head.length <= need) {
        parts.push(head);
        this.#chunks.shift();
        need -= head.length;
      } else {
        parts.push(head.subarray(0, need));
        this.#chunks[0] = head.subarray(need);
        need = 0;
      }
    }
    this.#length -= n;
    this.#scanned = Math.max(0, this.#scanned - n);
    if (this.#length <= this.highWater) this.flow.resume();
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }
}
