/**
 * In-band token refresh (protocol §10): at about 80 % of the token's lifetime the client asks
 * its token provider for a new one and sends `refresh`, without reconnecting. The due time is
 * checked on a timer and on every frame from the hub, against the wall clock, so a tab whose
 * timers were throttled still refreshes in time.
 */
import { GmqError } from "gmq";
import type { HubLink } from "./hub-link.js";

/**
 * Starts refreshing the credentials of `link` (expiring at `connected.expiresAt`) and returns
 * the check to run on every frame: it refreshes if it is due, and is cheap otherwise. The timer
 * never keeps a Node process alive, and does nothing once the link is gone.
 */
export function refresher(
  link: HubLink,
  token: () => string | Promise<string>,
  onError: (error: GmqError) => void,
  onToken: (token: string) => void,
): () => void {
  let dueAt = Infinity;
  let expiresAt: number | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;

  /** Due at `at` (infinity: never). A timer may fire a little early by the wall clock, or cap a
   *  long wait: it looks again then. */
  const arm = (at: number) => {
    clearTimeout(timer);
    dueAt = at;
    if (at < Infinity) {
      timer = setTimeout(() => (Date.now() < at ? arm(at) : check()), Math.min(at - Date.now(), 2 ** 31 - 1));
      (timer as { unref?(): void }).unref?.();
    }
  };
  const expires = (at: number | undefined) => {
    expiresAt = at;
    const now = Date.now();
    arm(at === undefined ? Infinity : now + Math.max(0, (at - now) * 0.8));
  };
  const check = () => {
    if (running || Date.now() < dueAt || !link.alive) return;
    running = true;
    (async () => {
      try {
        const fresh = await token();
        onToken(fresh);
        const answer = await link.request({ type: "refresh", token: fresh });
        expires(answer.type === "refreshed" ? answer.expiresAt : undefined);
      } catch (cause) {
        if (!link.alive) return;
        onError(GmqError.from(cause, "unauthenticated"));
        // Try again halfway to the expiry; past it the hub closes with 4101 and we reconnect.
        const left = (expiresAt ?? 0) - Date.now();
        arm(left > 1_000 ? Date.now() + left / 2 : Infinity);
      }
    })().finally(() => {
      running = false;
    });
  };
  expires(link.connected.expiresAt);
  return check;
}
