/**
 * The node's frames (spec §3): `[u16 BE type][u32 BE length][payload]`, split out of a TCP byte
 * stream whatever its chunking: a frame may come in many chunks, and a chunk may hold many frames.
 * Types: 101 a message, 102 an error, 103 a result, 104 channel data, 105 a heartbeat.
 */
import { badReply } from "../gnode-http/reasons.js";

/** Far above any real frame (a body is at most 10 MiB): a larger length means a broken stream. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/**
 * Feeds bytes; calls `onFrame` for each complete frame, keeping the rest for the next chunk.
 * Throws `protocol` on a bad header.
 */
export function frameDecoder(onFrame: (type: number, payload: Buffer) => void): (chunk: Buffer) => void {
  let rest: Buffer | undefined;
  return (chunk) => {
    const data = rest ? Buffer.concat([rest, chunk]) : chunk;
    rest = undefined;
    let at = 0;
    while (data.length - at >= 6) {
      const type = data.readUInt16BE(at);
      const length = data.readUInt32BE(at + 2);
      if (type < 101 || type > 105 || length > MAX_FRAME_BYTES) {
        throw badReply("gnode", `bad frame header (type ${type}, length ${length})`);
      }
      if (data.length - at - 6 < length) break;
      onFrame(type, data.subarray(at + 6, at + 6 + length));
      at += 6 + length;
    }
    if (at < data.length) rest = data.subarray(at);
  };
}
