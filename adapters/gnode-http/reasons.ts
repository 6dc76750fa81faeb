/**
 * The `reason` of the GmqErrors the gnode adapters make (`code` stays gmq's closed set), and the
 * mapping of the node's error texts onto them.
 */
import { type ErrorCode, GmqError } from "gmq";

export const GNODE_REASONS = {
  /** No queue matches the route key: nothing was stored (`no_responder`). */
  NO_MATCHING_QUEUE: "NO_MATCHING_QUEUE",
  /** The ack came after the message's TTR ran out (or a node restart lost it): it was, or will
   *  be, delivered again (`timeout`). */
  ACK_EXPIRED: "ACK_EXPIRED",
  /** The queue is gone (a node restart drops empty queues); the adapter declares it again. */
  QUEUE_MISSING: "QUEUE_MISSING",
  /** Any other refusal from the node; its text is the message (`remote`). */
  NODE_ERROR: "NODE_ERROR",
  /** A reply the adapter cannot read (`protocol`). */
  BAD_REPLY: "BAD_REPLY",
  /** A pub/sub channel stayed backed up for 10 s (`busy`). */
  CHANNEL_TIMEOUT: "CHANNEL_TIMEOUT",
  /** A popping socket went silent (no heartbeat for 12.5 s) (`disconnected`). */
  HEARTBEAT_LOST: "HEARTBEAT_LOST",
} as const;

export type GnodeReason = (typeof GNODE_REASONS)[keyof typeof GNODE_REASONS];

/** The node's error texts by meaning; anything else is `remote` / `NODE_ERROR`. Literals rather
 *  than GNODE_REASONS: the constants stay out of bundles that do not use them. */
const TEXTS: [RegExp, ErrorCode, GnodeReason][] = [
  [/is not match with queue/, "no_responder", "NO_MATCHING_QUEUE"],
  [/^(E_INVALID_ACK - )?msgId:\d+ is not exist/, "timeout", "ACK_EXPIRED"],
  [/can't match queue|is not associated with queue/, "remote", "QUEUE_MISSING"],
  [/^E_INVALID_PUBLISH - timeout/, "busy", "CHANNEL_TIMEOUT"],
];

/** The GmqError for an error text from the node (HTTP `msg`, or a TCP 102 frame). */
export function nodeError(text: string, what: string): GmqError {
  const [, code, reason] = TEXTS.find(([pattern]) => pattern.test(text)) ?? [0, "remote", "NODE_ERROR"];
  return new GmqError(code, `${what}: ${text}`, { reason, details: { text } });
}

export const isQueueMissing = (error: unknown): boolean => (error as GmqError)?.reason === "QUEUE_MISSING";

export const isNetwork = (error: unknown): boolean => (error as GmqError)?.code === "disconnected";

export const badReply = (what: string, detail: string): GmqError =>
  new GmqError("protocol", `${what}: ${detail}`, { reason: "BAD_REPLY" });

/** `what` could not be done because the node was out of reach (or the link broke). */
export const unreachable = (what: string, cause?: unknown): GmqError =>
  new GmqError("disconnected", what, { cause });

export const noop = (): void => {};
