/**
 * In-band token refresh (protocol §10): at about 80 % of the token's lifetime the client asks
 * its token provider for a new one and sends `refresh`, without reconnecting. The due time is
 * checked on a timer and on every frame from the hub, against the wall clock, so a tab whose
 * timers were throttled still refreshes in time.
 */
import { GmqError } from "gmq";
import type { HubLink } from "./hub-link.js";

/** Refresh when this share of the remaining lifetime has passed. */
const AT_SHARE = 0.8;

export class TokenRefresher {
  private dueAt = Number.POSITIVE_INFINITY;
  private expiresAt: number | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;

  constructor(
    private readonly link: HubLink,
    private readonly token: () => string | Promise<string>,
    private readonly onError: (error: GmqError) => void,
    private readonly onToken: (token: string) => void,
  ) {}

  /** The credentials now expire at `expiresAt` (undefined: never). */
  expires(expiresAt: number | undefined): void {
    this.expiresAt = expiresAt;
    clearTimeout(this.timer);
    if (expiresAt === undefined) {
      this.dueAt = Number.POSITIVE_INFINITY;
      return;
    }
    const now = Date.now();
    this.arm(now + Math.max(0, (expiresAt - now) * AT_SHARE));
  }

  /** Refreshes if it is due; cheap otherwise. */
  check(): void {
    if (this.running || Date.now() < this.dueAt || !this.link.alive) return;
    this.running = true;
    void this.refresh().finally(() => {
      this.running = false;
    });
  }

  /** A timer may fire a little early by the wall clock: it checks again until due. */
  private arm(dueAt: number): void {
    this.dueAt = dueAt;
    clearTimeout(this.timer);
    const wait = dueAt - Date.now();
    this.timer = setTimeout(() => (Date.now() < this.dueAt ? this.arm(this.dueAt) : this.check()), wait);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.dueAt = Number.POSITIVE_INFINITY;
  }

  private async refresh(): Promise<void> {
    try {
      const token = await this.token();
      this.onToken(token);
      const answer = await this.link.request({ type: "refresh", token });
      this.expires(answer.type === "refreshed" ? answer.expiresAt : undefined);
    } catch (cause) {
      if (!this.link.alive) return;
      this.onError(GmqError.from(cause, "unauthenticated"));
      // Try again halfway to the expiry; past it the hub closes with 4101 and we reconnect.
      const left = (this.expiresAt ?? Date.now()) - Date.now();
      if (left > 1_000) this.arm(Date.now() + left / 2);
      else this.stop();
    }
  }
}
