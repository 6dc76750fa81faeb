/**
 * The header at the start of an outbox log:
 *
 *   v1 = "GMQOBX" 0x00 0x01                                   8 bytes (read, never written now)
 *   v2 = "GMQOBX" 0x00 0x02 (salt:8 saltCrc:u32le) ×2         32 bytes
 *
 * The salt is random per file (a new one at every compaction) and seeds every checksum in the
 * file. So a frame carried inside a payload (an outbox log sent as a message, or one forged on
 * purpose) never checks out as a frame of this file when recovery scans past damage for the next
 * intact frame: forging one takes the salt, which never leaves the file. It is stored twice, each
 * copy with its own CRC, so one damaged byte in the header cannot make the whole log unreadable.
 */
import { randomBytes } from "node:crypto";
import { crc32 } from "./crc32.js";

const MAGIC = [0x47, 0x4d, 0x51, 0x4f, 0x42, 0x58, 0x00]; // "GMQOBX\0"
export const CURRENT_VERSION = 2;
const SALT_SIZE = 8;
const COPY_SIZE = SALT_SIZE + 4;
/** Size of the header this version writes. */
export const FILE_HEADER_SIZE = MAGIC.length + 1 + 2 * COPY_SIZE;
const V1_HEADER_SIZE = MAGIC.length + 1;

/** How the frames after a header are laid out and checksummed. */
export interface Framing {
  readonly version: 1 | 2;
  /** Initial CRC of every checksum in the file (the CRC of its salt; 0 in v1). */
  readonly seed: number;
}

export interface LogHeader {
  readonly framing: Framing;
  /** Bytes the header takes: the first frame starts here. */
  readonly size: number;
}

export type HeaderRead =
  | { readonly status: "ok"; readonly header: LogHeader }
  /** A prefix of a header, or nothing: a crash while the file was being created. */
  | { readonly status: "short" }
  /** Not an outbox log, or one from a newer gmq. */
  | { readonly status: "foreign"; readonly version?: number }
  /** An outbox log whose two salt copies are both damaged: its checksums cannot be verified. */
  | { readonly status: "damaged" };

/** A fresh v2 header with a new random salt. */
export function newHeader(): { readonly bytes: Buffer; readonly header: LogHeader } {
  const salt = randomBytes(SALT_SIZE);
  const check = crc32(salt);
  const bytes = Buffer.alloc(FILE_HEADER_SIZE);
  bytes.set(MAGIC, 0);
  bytes[MAGIC.length] = CURRENT_VERSION;
  for (let copy = 0; copy < 2; copy++) {
    const at = V1_HEADER_SIZE + copy * COPY_SIZE;
    bytes.set(salt, at);
    bytes.writeUInt32LE(check, at + SALT_SIZE);
  }
  return { bytes, header: { framing: { version: 2, seed: check }, size: FILE_HEADER_SIZE } };
}

export function readHeader(bytes: Uint8Array): HeaderRead {
  const n = Math.min(bytes.length, MAGIC.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== MAGIC[i]) return { status: "foreign" };
  if (bytes.length <= MAGIC.length) return { status: "short" };
  const version = bytes[MAGIC.length]!;
  if (version === 1)
    return { status: "ok", header: { framing: { version: 1, seed: 0 }, size: V1_HEADER_SIZE } };
  if (version !== 2) return { status: "foreign", version };
  if (bytes.length < FILE_HEADER_SIZE) return { status: "short" };
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, FILE_HEADER_SIZE);
  for (let copy = 0; copy < 2; copy++) {
    const at = V1_HEADER_SIZE + copy * COPY_SIZE;
    const check = crc32(view.subarray(at, at + SALT_SIZE));
    if (check === view.readUInt32LE(at + SALT_SIZE)) {
      return { status: "ok", header: { framing: { version: 2, seed: check }, size: FILE_HEADER_SIZE } };
    }
  }
  return { status: "damaged" };
}
