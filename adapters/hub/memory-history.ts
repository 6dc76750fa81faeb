/**
 * Kept history of topic streams in memory. Each topic stream has a random epoch and contiguous
 * offsets from 1; it keeps its newest `maxMessages` for at most `maxAgeMs`. Streams are evicted
 * least recently used beyond `maxStreams`; an evicted stream comes back with a new epoch, so a
 * client holding an old position learns it cannot be recovered instead of missing messages.
 */
import type { EngineMessage, Recovery, StoredMessage } from "./engine.js";
import type { StreamPosition } from "./protocol.js";

interface Stream {
  readonly epoch: string;
  last: number;
  /** Oldest first, contiguous offsets. */
  readonly kept: StoredMessage[];
  readonly keptAt: number[];
  /** Index of the oldest live entry in `kept` (entries before it are dropped lazily). */
  head: number;
}

export class MemoryHistory {
  private readonly streams = new Map<string, Stream>();

  constructor(
    private readonly limits: { maxMessages: number; maxAgeMs: number },
    private readonly maxStreams: number,
    private readonly now: () => number = Date.now,
  ) {}

  append(message: EngineMessage): StoredMessage {
    const stream = this.stream(message.topic);
    const stored: StoredMessage = {
      ...message,
      epoch: stream.epoch,
      offset: stream.last + 1,
      prev: stream.last,
    };
    stream.last = stored.offset;
    if (this.limits.maxMessages > 0) {
      stream.kept.push(stored);
      stream.keptAt.push(this.now());
      this.trim(stream);
    }
    return stored;
  }

  position(topic: string): StreamPosition {
    const stream = this.stream(topic);
    return { epoch: stream.epoch, offset: stream.last };
  }

  recover(topic: string, since: StreamPosition): Recovery {
    const stream = this.stream(topic);
    this.trim(stream);
    const position = { epoch: stream.epoch, offset: stream.last };
    const lost: Recovery = { recovered: false, messages: [], position };
    if (since.epoch !== stream.epoch || since.offset > stream.last || since.offset < 0) return lost;
    const firstKept = stream.head < stream.kept.length ? stream.kept[stream.head]!.offset : stream.last + 1;
    if (since.offset + 1 < firstKept) return lost;
    const from = stream.head + (since.offset + 1 - firstKept);
    return { recovered: true, messages: stream.kept.slice(from), position };
  }

  /** Forget every stream (tests: a hub that lost its history). */
  clear(): void {
    this.streams.clear();
  }

  private stream(topic: string): Stream {
    let stream = this.streams.get(topic);
    if (stream) {
      // Most recently used last, so eviction takes the first.
      this.streams.delete(topic);
    } else {
      stream = { epoch: newEpoch(), last: 0, kept: [], keptAt: [], head: 0 };
      if (this.streams.size >= this.maxStreams) {
        const oldest = this.streams.keys().next().value;
        if (oldest !== undefined) this.streams.delete(oldest);
      }
    }
    this.streams.set(topic, stream);
    return stream;
  }

  private trim(stream: Stream): void {
    const tooOld = this.now() - this.limits.maxAgeMs;
    let head = stream.head;
    while (
      head < stream.kept.length &&
      (stream.kept.length - head > this.limits.maxMessages || stream.keptAt[head]! < tooOld)
    ) {
      head++;
    }
    stream.head = head;
    // Compact once the dropped prefix outweighs what is kept.
    if (head > 64 && head * 2 > stream.kept.length) {
      stream.kept.splice(0, head);
      stream.keptAt.splice(0, head);
      stream.head = 0;
    }
  }
}

function newEpoch(): string {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
