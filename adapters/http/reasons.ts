/**
 * The `reason` of every GmqError this adapter makes. Besides these constants: `CODE_<n>` for a
 * gw123 envelope's handled error code (e.g. `CODE_402`), and `HTTP_<status>` for an HTTP status
 * (e.g. `HTTP_500`; for echo's own errors inside a 500, the status echo meant, e.g. `HTTP_404`).
 */
export const HTTP_REASONS = {
  /** No answer at all: the fetch failed or the connection dropped (`disconnected`). */
  UNREACHABLE: "UNREACHABLE",
  /** A 200 that is not a `{code,msg,data}` envelope (`protocol`). */
  BAD_ENVELOPE: "BAD_ENVELOPE",
  /** mqant: no module of that type (`none available`, `nofound <id>`) (`no_responder`). */
  MODULE_NOT_FOUND: "MODULE_NOT_FOUND",
  /** mqant: the module has no handler for that path (`Remote function(...) not found`) (`no_responder`). */
  HANDLER_NOT_FOUND: "HANDLER_NOT_FOUND",
  /** mqant: the gateway's RPC to the module timed out (`deadline exceeded`) (`timeout`). */
  SERVER_TIMEOUT: "SERVER_TIMEOUT",
} as const;

export type HttpReason = (typeof HTTP_REASONS)[keyof typeof HTTP_REASONS];

export const envelopeReason = (code: number): string => `CODE_${code}`;
export const httpReason = (status: number): string => `HTTP_${status}`;
