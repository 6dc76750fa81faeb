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

export type FrameTracker = ReturnType<typeof frameTracker>;

/** @param onOversize told (once) the size of the first packet over `maxPacketBytes`. */
export function frameTracker(
  maxPacketBytes = Number.POSITIVE_INFINITY,
  onOversize: (bytes: number) => void = () => {},
) {
  /** 0: expecting a packet type byte; 1: reading the remaining length; 2: inside the body. */
  let phase: 0 | 1 | 2 = 0;
  let remaining = 0;
  let multiplier = 1;
  let lengthBytes = 0;
  let received = 0;
  let expected = 0;
  let type = 0;
  /** PUBLISH packets whose header byte has been seen. */
  let publishes = 0;
  /** Numbers (0-based, ascending) of PUBLISH packets whose topic is not well-formed UTF-8. */
  const badTopics: number[] = [];
  /** Topic of the PUBLISH being read: bytes of its length still to read (2, 1), then -1. */
  let topicLengthLeft = 0;
  let topicLeft = 0;
  /** Topic bytes from the first non-ASCII one on (ASCII alone is always valid UTF-8). */
  let topicTail: number[] | undefined;

  const checkTopic = (): void => {
    const tail = topicTail;
    topicTail = undefined;
    if (!tail) return;
    try {
      strictUtf8.decode(Uint8Array.from(tail));
    } catch {
      badTopics.push(publishes - 1);
    }
  };

  /** Reads topic bytes of the current PUBLISH from `i`; returns where it stopped. */
  const readTopic = (chunk: Uint8Array, start: number): number => {
    let i = start;
    // The usual case: the whole topic is in this chunk. One tight loop; a copy only if non-ASCII.
    if (topicLengthLeft === 2 && chunk.length - i >= 2) {
      const length = (chunk[i]! << 8) | chunk[i + 1]!;
      const end = i + 2 + length;
      if (end <= chunk.length && 2 + length <= remaining) {
        let ascii = true;
        for (let j = i + 2; j < end; j++) {
          if (chunk[j]! >= 0x80) {
            ascii = false;
            break;
          }
        }
        if (!ascii) topicTail = Array.from(chunk.subarray(i + 2, end));
        received += 2 + length;
        remaining -= 2 + length;
        topicLengthLeft = -1;
        checkTopic();
        if (remaining === 0) phase = 0;
        return end;
      }
    }
    while (i < chunk.length && remaining > 0) {
      const byte = chunk[i++]!;
      received++;
      remaining--;
      if (topicLengthLeft > 0) {
        topicLeft = (topicLeft << 8) | byte;
        if (--topicLengthLeft > 0) continue;
      } else {
        if (topicTail) topicTail.push(byte);
        else if (byte >= 0x80) topicTail = [byte];
        topicLeft--;
      }
      if (topicLeft === 0) {
        topicLengthLeft = -1;
        checkTopic();
        break;
      }
    }
    if (remaining === 0) {
      if (topicLengthLeft >= 0) topicLengthLeft = -1; // cut short: mqtt.js rejects it
      phase = 0;
    }
    return i;
  };

  return {
    /** PUBLISH packets whose header byte has been seen. */
    get publishes(): number {
      return publishes;
    },

    feed(chunk: Uint8Array): void {
      const end = chunk.length;
      let i = 0;
      while (i < end) {
        if (phase === 0) {
          type = chunk[i]! >> 4;
          phase = 1;
          remaining = 0;
          multiplier = 1;
          lengthBytes = 0;
          received = 1;
          i++;
        } else if (phase === 1) {
          const byte = chunk[i++]!;
          received++;
          remaining += (byte & 0x7f) * multiplier;
          multiplier *= 128;
          lengthBytes++;
          if ((byte & 0x80) === 0 || lengthBytes === 4) {
            expected = received + remaining;
            phase = remaining === 0 ? 0 : 2;
            if (expected > maxPacketBytes) {
              onOversize(expected);
              maxPacketBytes = Number.POSITIVE_INFINITY; // said once; the connection ends
            }
            if (type === PUBLISH) {
              publishes++;
              topicLengthLeft = 2;
              topicLeft = 0;
              topicTail = undefined;
            }
          }
        } else if (type === PUBLISH && topicLengthLeft >= 0) {
          i = readTopic(chunk, i);
        } else {
          const take = Math.min(remaining, end - i);
          i += take;
          received += take;
          remaining -= take;
          if (remaining === 0) phase = 0;
        }
      }
    },

    /** Whether PUBLISH number `n` (0-based, in arrival order) had a malformed topic. Ask in order. */
    malformedTopic(n: number): boolean {
      while (badTopics.length > 0 && badTopics[0]! < n) badTopics.shift();
      if (badTopics[0] !== n) return false;
      badTopics.shift();
      return true;
    },

    /** Bytes of an unfinished packet are pending. */
    get midPacket(): boolean {
      return phase !== 0;
    },

    describe: (): string =>
      phase === 2 ? `${received} of ${expected} bytes of a packet` : "a packet header",
  };
}
