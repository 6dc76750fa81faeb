/**
 * The two gate versions the emulator imitates (spec §1) and the numbers that differ between them.
 */

export type MqantProfile = "v1.2.0" | "master";

/** Seconds the gate waits for the first packet (CONNECT) after accept (`OverTime`). */
export const CONNECT_DEADLINE_S = 10;

/** Worker slots per connection (`ConcurrentTasks`). */
export const WORKER_POOL_SIZE = 20;

/** Default `MaxPackSize`: the largest accepted remaining length. */
export const DEFAULT_MAX_PACK_SIZE = 65535;

/** Server-side RPC timeout in ms before `deadline exceeded` (demo config on v1.2.0, app default on master). */
export function rpcTimeoutMs(profile: MqantProfile): number {
  return profile === "v1.2.0" ? 1000 : 10_000;
}

/**
 * Idle read deadline D in seconds for keep-alive K (§2.4). K = 0 means 60.
 * A = floor(1.5·K + 1); v1.2.0 uses floor(1.5·A), master clamp(3·A, 10, 60).
 */
export function idleDeadlineSeconds(profile: MqantProfile, keepAlive: number): number {
  const k = keepAlive === 0 ? 60 : keepAlive;
  const a = Math.floor(1.5 * k + 1);
  if (profile === "v1.2.0") return Math.floor(1.5 * a);
  return Math.min(60, Math.max(10, 3 * a));
}

/**
 * Value of the `Sec-WebSocket-Protocol` response header for the raw offered value (§2.1):
 * v1.2.0 echoes it verbatim, master only its first comma-separated token (not trimmed);
 * both answer with an empty value when nothing was offered.
 */
export function subprotocolEcho(profile: MqantProfile, offered: string | undefined): string {
  if (offered === undefined) return "";
  if (profile === "v1.2.0") return offered;
  return offered.split(",")[0] ?? "";
}

/** master refuses nothing below 2 payload bytes; v1.2.0's parser insists on `vlen >= 2` (§2.5, §8 item 13). */
export function rejectsShortPayload(profile: MqantProfile): boolean {
  return profile === "v1.2.0";
}
