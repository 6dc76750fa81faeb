/**
 * The node's frames (spec §3): `[u16 BE type][u32 BE length][payload]`, split out of a TCP byte
 * stream whatever its chunking: a frame may come in many chunks, and a chunk may hold many frames.
 */
import { Buffer } from "node:buffer";
import { GmqError } from "gmq";
import { GNODE_REASONS } from "../gnode-http/reasons.js";

export const MESSAGE = 101;
export const ERROR = 102;
export const RESULT = 103;
export const CHANNEL = 104;
export const PING = 105;

/** Far above any real frame (a body is at most 10 MiB): a larger length means a broken stream. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export class FrameDecoder {
  private rest: Buffer | undefined;

  constructor(private readonly onFrame: (type: number, payload: Buffer) => void) {}

  /** Feeds bytes; calls `onFrame` for each complete frame. Throws `protocol` on a bad header. */
  push(chunk: Buffer): void {
    const data = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = undefined;
    let at = 0;
    while (data.length - at >= 6) {
      const type = data.readUInt16BE(at);
      const length = data.readUInt32BE(at + 2);
      if (type < MESSAGE || type > PING || length > MAX_FRAME_BYTES) {
        throw new GmqError("protocol", `gnode: bad frame header (type ${type}, length ${length})`, {
          reason: GNODE_REASONS.BAD_REPLY,
        });
      }
      if (data.length - at - 6 < length) break;
      this.onFrame(type, data.subarray(at + 6, at + 6 + length));
      at += 6 + length;
    }
    if (at < data.length) this.rest = data.subarray(at);
  }
}

/** `[u32 BE length][bytes]`: an item after a `pub`, `mpub` or `publish` line. */
export function withLength(bytes: Buffer): Buffer[] {
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(bytes.length, 0);
  return [length, bytes];
}
