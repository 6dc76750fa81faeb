/**
 * Pub/sub channels (spec §4): in memory, fire-and-forget. Each channel has one distributor that
 * writes a 104 frame to every subscriber in turn and waits while a subscriber's socket is backed
 * up; a publish is "ok" once the distributor takes it, and fails with `timeout.` if the
 * distributor stays busy for the publish timeout (upstream: an unbuffered Go channel and 10 s).
 */

export interface ChannelSubscriber {
  /** Write one 104 frame; false when the socket is backed up (the distributor then waits). */
  sendChannelFrame(data: Uint8Array): boolean;
  /** Resolves when the socket drains or closes. */
  drained(): Promise<void>;
}

export type PublishOutcome = "ok" | "no subscribers" | "timeout.";

interface PendingPublish {
  readonly data: Uint8Array;
  readonly resolve: (outcome: PublishOutcome) => void;
  readonly timer: NodeJS.Timeout;
}

class Channel {
  readonly subscribers = new Set<ChannelSubscriber>();
  #busy = false;
  #pending: PendingPublish[] = [];

  constructor(private readonly timeoutMs: number) {}

  publish(data: Uint8Array): Promise<PublishOutcome> {
    if (this.subscribers.size === 0) return Promise.resolve("no subscribers");
    if (!this.#busy) {
      void this.distribute(data);
      return Promise.resolve("ok");
    }
    return new Promise((resolve) => {
      const entry: PendingPublish = {
        data,
        resolve,
        timer: setTimeout(() => {
          this.#pending = this.#pending.filter((p) => p !== entry);
          resolve("timeout.");
        }, this.timeoutMs),
      };
      this.#pending.push(entry);
    });
  }

  /** The node is going away: fail the publishers still waiting, without waiting for their timers. */
  dispose(): void {
    for (const p of this.#pending.splice(0)) {
      clearTimeout(p.timer);
      p.resolve("timeout.");
    }
    this.subscribers.clear();
  }

  private async distribute(data: Uint8Array): Promise<void> {
    this.#busy = true;
    for (const sub of [...this.subscribers]) {
      if (this.subscribers.has(sub) && !sub.sendChannelFrame(data)) await sub.drained();
    }
    this.#busy = false;
    const next = this.#pending.shift();
    if (next) {
      clearTimeout(next.timer);
      next.resolve("ok");
      void this.distribute(next.data);
    }
  }
}

export class ChannelHub {
  readonly #channels = new Map<string, Channel>();

  constructor(private readonly publishTimeoutMs: number) {}

  /** False when this subscriber is already on the channel. */
  subscribe(name: string, sub: ChannelSubscriber): boolean {
    let channel = this.#channels.get(name);
    if (!channel) {
      channel = new Channel(this.publishTimeoutMs);
      this.#channels.set(name, channel);
    }
    if (channel.subscribers.has(sub)) return false;
    channel.subscribers.add(sub);
    return true;
  }

  publish(name: string, data: Uint8Array): Promise<PublishOutcome> {
    const channel = this.#channels.get(name);
    return channel ? channel.publish(data) : Promise.resolve("no subscribers");
  }

  /** A subscriber's connection ended: leave every channel; a channel goes with its last subscriber. */
  leave(sub: ChannelSubscriber): void {
    for (const [name, channel] of this.#channels) {
      if (channel.subscribers.delete(sub) && channel.subscribers.size === 0) this.#channels.delete(name);
    }
  }

  /** Channel name → subscriber count. */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.#channels].map(([name, c]) => [name, c.subscribers.size]));
  }

  clear(): void {
    for (const channel of this.#channels.values()) channel.dispose();
    this.#channels.clear();
  }
}
