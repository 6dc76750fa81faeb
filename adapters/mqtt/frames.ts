/**
 * Follows MQTT packet boundaries in the bytes a broker sends (fixed header + remaining length,
 * skipping bodies in bulk), so that a connection closed in the middle of a packet can be told
 * apart from a clean close and reported as a protocol error, and so that a packet over the size
 * limit is refused from its header, before its body is buffered. mqtt.js keeps that state private.
 *
 * It also checks the raw topic bytes of every PUBLISH: mqtt.js decodes topics leniently (an
 * invalid UTF-8 sequence becomes U+FFFD), so only the bytes can tell a malformed topic from one
 * that really holds U+FFFD. PUBLISH packets are numbered in arrival order, the same order in which
 * mqtt.js parses them, and the numbers of those with a malformed topic are kept for the
 * connection to ask about.
 */
const PUBLISH = 3;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export class FrameTracker {
  #maxPacketBytes;
  readonly #onOversize: (bytes: number) => void;

  /** @param onOversize told (once) the size of the first packet over `maxPacketBytes`. */
  constructor(maxPacketBytes = Number.POSITIVE_INFINITY, onOversize: (bytes: number) => void = () => {}) {
    this.#maxPacketBytes = maxPacketBytes;
    this.#onOversize = onOversize;
  }

  /** 0: expecting a packet type byte; 1: reading the remaining length; 2: inside the body. */
  #phase: 0 | 1 | 2 = 0;
  #remaining = 0;
  #multiplier = 1;
  #lengthBytes = 0;
  #received = 0;
  #expected = 0;
  #type = 0;
  /** PUBLISH packets whose header byte has been seen. */
  publishes = 0;
  /** Numbers (0-based, ascending) of PUBLISH packets whose topic is not well-formed UTF-8. */
  readonly #badTopics: number[] = [];
  /** Topic of the PUBLISH being read: bytes of its length still to read (2, 1), then -1. */
  #topicLengthLeft = 0;
  #topicLeft = 0;
  /** Topic bytes from the first non-ASCII one on (ASCII alone is always valid UTF-8). */
  #topicTail: number[] | undefined;

  feed(chunk: Uint8Array): void {
    const end = chunk.length;
    let i = 0;
    while (i < end) {
      if (this.#phase === 0) {
        this.#type = chunk[i]! >> 4;
        this.#phase = 1;
        this.#remaining = 0;
        this.#multiplier = 1;
        this.#lengthBytes = 0;
        this.#received = 1;
        i++;
      } else if (this.#phase === 1) {
        const byte = chunk[i++]!;
        this.#received++;
        this.#remaining += (byte & 0x7f) * this.#multiplier;
        this.#multiplier *= 128;
        this.#lengthBytes++;
        if ((byte & 0x80) === 0 || this.#lengthBytes === 4) {
          this.#expected = this.#received + this.#remaining;
          this.#phase = this.#remaining === 0 ? 0 : 2;
          if (this.#expected > this.#maxPacketBytes) {
            this.#onOversize(this.#expected);
            this.#maxPacketBytes = Number.POSITIVE_INFINITY; // said once; the connection ends
          }
          if (this.#type === PUBLISH) {
            this.publishes++;
            this.#topicLengthLeft = 2;
            this.#topicLeft = 0;
            this.#topicTail = undefined;
          }
        }
      } else if (this.#type === PUBLISH && this.#topicLengthLeft >= 0) {
        i = this.#readTopic(chunk, i);
      } else {
        const take = Math.min(this.#remaining, end - i);
        i += take;
        this.#received += take;
        this.#remaining -= take;
        if (this.#remaining === 0) this.#phase = 0;
      }
    }
  }

  /** Reads topic bytes of the current PUBLISH from `i`; returns where it stopped. */
  #readTopic(chunk: Uint8Array, start: number): number {
    let i = start;
    // The usual case: the whole topic is in this chunk. One tight loop; a copy only if non-ASCII.
    if (this.#topicLengthLeft === 2 && chunk.length - i >= 2) {
      const length = (chunk[i]! << 8) | chunk[i + 1]!;
      const end = i + 2 + length;
      if (end <= chunk.length && 2 + length <= this.#remaining) {
        let ascii = true;
        for (let j = i + 2; j < end; j++) {
          if (chunk[j]! >= 0x80) {
            ascii = false;
            break;
          }
        }
        if (!ascii) this.#topicTail = Array.from(chunk.subarray(i + 2, end));
        this.#received += 2 + length;
        this.#remaining -= 2 + length;
        this.#topicLengthLeft = -1;
        this.#checkTopic();
        if (this.#remaining === 0) this.#phase = 0;
        return end;
      }
    }
    while (i < chunk.length && this.#remaining > 0) {
      const byte = chunk[i++]!;
      this.#received++;
      this.#remaining--;
      if (this.#topicLengthLeft > 0) {
        this.#topicLeft = (this.#topicLeft << 8) | byte;
        if (--this.#topicLengthLeft > 0) continue;
      } else {
        if (this.#topicTail) this.#topicTail.push(byte);
        else if (byte >= 0x80) this.#topicTail = [byte];
        this.#topicLeft--;
      }
      if (this.#topicLeft === 0) {
        this.#topicLengthLeft = -1;
        this.#checkTopic();
        break;
      }
    }
    if (this.#remaining === 0) {
      if (this.#topicLengthLeft >= 0) this.#topicLengthLeft = -1; // cut short: mqtt.js rejects it
      this.#phase = 0;
    }
    return i;
  }

  #checkTopic(): void {
    const tail = this.#topicTail;
    this.#topicTail = undefined;
    if (!tail) return;
    try {
      strictUtf8.decode(Uint8Array.from(tail));
    } catch {
      this.#badTopics.push(this.publishes - 1);
    }
  }

  /** Whether PUBLISH number `n` (0-based, in arrival order) had a malformed topic. Ask in order. */
  malformedTopic(n: number): boolean {
    while (this.#badTopics.length > 0 && this.#badTopics[0]! < n) this.#badTopics.shift();
    if (this.#badTopics[0] !== n) return false;
    this.#badTopics.shift();
    return true;
  }

  /** Bytes of an unfinished packet are pending. */
  get midPacket(): boolean {
    return this.#phase !== 0;
  }

  describe(): string {
    return this.#phase === 2 ? `${this.#received} of ${this.#expected} bytes of a packet` : "a packet header";
  }
}
