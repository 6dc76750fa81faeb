/**
 * Follows MQTT packet boundaries in the bytes a broker sends (fixed header + remaining length,
 * skipping bodies in bulk), so that a connection closed in the middle of a packet can be told
 * apart from a clean close and reported as a protocol error, and so that a packet over the size
 * limit is refused from its header, before its body is buffered. mqtt.js keeps that state private.
 */
export class FrameTracker {
  /** @param onOversize told (once) the size of the first packet over `maxPacketBytes`. */
  constructor(
    private maxPacketBytes = Number.POSITIVE_INFINITY,
    private readonly onOversize: (bytes: number) => void = () => {},
  ) {}

  /** 0: expecting a packet type byte; 1: reading the remaining length; 2: inside the body. */
  private phase: 0 | 1 | 2 = 0;
  private remaining = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private received = 0;
  private expected = 0;

  feed(chunk: Uint8Array): void {
    const end = chunk.length;
    let i = 0;
    while (i < end) {
      if (this.phase === 0) {
        this.phase = 1;
        this.remaining = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        this.received = 1;
        i++;
      } else if (this.phase === 1) {
        const byte = chunk[i++]!;
        this.received++;
        this.remaining += (byte & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes++;
        if ((byte & 0x80) === 0 || this.lengthBytes === 4) {
          this.expected = this.received + this.remaining;
          this.phase = this.remaining === 0 ? 0 : 2;
          if (this.expected > this.maxPacketBytes) {
            this.onOversize(this.expected);
            this.maxPacketBytes = Number.POSITIVE_INFINITY; // said once; the connection ends
          }
        }
      } else {
        const take = Math.min(this.remaining, end - i);
        i += take;
        this.received += take;
        this.remaining -= take;
        if (this.remaining === 0) this.phase = 0;
      }
    }
  }

  /** Bytes of an unfinished packet are pending. */
  get midPacket(): boolean {
    return this.phase !== 0;
  }

  describe(): string {
    return this.phase === 2 ? `${this.received} of ${this.expected} bytes of a packet` : "a packet header";
  }
}
