/**
 * The hub's local side of routing: which of its connections' subscriptions share an interest,
 * which member of a queue group gets a message, and where a message goes back when a queue
 * member nacks it or leaves (another local member, another hub through the engine, or a short
 * wait for a member to join).
 */
import { type EngineSession, type Interest, interestKey, type StoredMessage } from "./engine.js";
import type { Requeuer, Subscription } from "./subscription.js";

interface Group {
  readonly interest: Interest;
  readonly members: Subscription[];
  turn: number;
  /** The engine interest, once asked for; undefined while the group only holds orphans. */
  ready: Promise<void> | undefined;
  /** Requeued messages no member anywhere could take yet, with when they arrived. */
  orphans: { message: StoredMessage; at: number }[];
}

export class Router implements Requeuer {
  private readonly groups = new Map<string, Group>();

  constructor(
    private readonly engine: () => EngineSession,
    private readonly orphanLimits: { maxMessages: number; maxAgeMs: number },
    private readonly onError: (error: unknown) => void,
  ) {}

  async join(sub: Subscription): Promise<void> {
    const key = interestKey(sub.interest);
    let group = this.groups.get(key);
    if (!group) {
      group = { interest: sub.interest, members: [], turn: 0, ready: undefined, orphans: [] };
      this.groups.set(key, group);
    }
    if (!group.ready) {
      const asked = this.engine().addInterest(sub.interest);
      const current = group;
      current.ready = asked;
      asked.catch(() => {
        if (current.ready === asked) current.ready = undefined;
      });
    }
    await group.ready;
    group.members.push(sub);
    if (sub.closed) return this.leave(sub); // left while joining: undo, cleaning up the group
    sub.engine = this.engine();
    this.adoptOrphans(group);
  }

  leave(sub: Subscription): void {
    const key = interestKey(sub.interest);
    const group = this.groups.get(key);
    if (!group) {
      sub.close();
      return;
    }
    const index = group.members.indexOf(sub);
    sub.close();
    // Not a member (refused, or still joining): the group is someone else's to clean up.
    if (index < 0) return;
    group.members.splice(index, 1);
    if (group.members.length === 0 && group.ready) {
      group.ready = undefined;
      if (group.orphans.length === 0) this.groups.delete(key);
      this.engine()
        .removeInterest(group.interest)
        .catch((error) => this.onError(error));
    }
  }

  /** From the engine: a message for one of our interests. */
  deliver(interest: Interest, message: StoredMessage, redelivered: boolean): void {
    const group = this.groups.get(interestKey(interest));
    if (!group || group.members.length === 0) {
      if (interest.queue !== undefined) this.sendBack(interest, message, group);
      return;
    }
    if (interest.queue === undefined) {
      for (const member of group.members) member.offer(message, redelivered);
      return;
    }
    this.choose(group)!.offer(message, redelivered);
  }

  /** From the engine: another hub hands back a queue message. */
  takeRequeued(interest: Interest, message: StoredMessage): boolean {
    const group = this.groups.get(interestKey(interest));
    const member = group && this.choose(group);
    if (!member) return false;
    member.offer(message, true);
    return true;
  }

  /** A queue member nacked a message or left with it: give it to another member. */
  requeue(from: Subscription, message: StoredMessage): void {
    const group = this.groups.get(interestKey(from.interest));
    const member = group && this.choose(group, from);
    if (member) {
      member.offer(message, true);
      return;
    }
    this.sendBack(from.interest, message, group);
  }

  /** Round robin, preferring members with manual-ack room; `avoid` only when it is the only one. */
  private choose(group: Group, avoid?: Subscription): Subscription | undefined {
    const live = group.members.filter((m) => !m.closed && m !== avoid);
    if (live.length === 0) return avoid && !avoid.closed ? avoid : undefined;
    const withRoom = live.filter((m) => m.hasRoom);
    const from = withRoom.length > 0 ? withRoom : live;
    return from[group.turn++ % from.length];
  }

  /** No local member: another hub's, or wait here for one to join. */
  private sendBack(interest: Interest, message: StoredMessage, group: Group | undefined): void {
    this.engine()
      .requeue(interest, message)
      .then((taken) => {
        if (taken) return;
        const key = interestKey(interest);
        let waiting = group ?? this.groups.get(key);
        if (!waiting) {
          waiting = { interest, members: [], turn: 0, ready: undefined, orphans: [] };
          this.groups.set(key, waiting);
        }
        this.pruneOrphans(waiting);
        if (waiting.orphans.length >= this.orphanLimits.maxMessages) {
          this.onError(new Error(`queue ${interest.queue}: no member for a requeued message; dropped`));
          return;
        }
        waiting.orphans.push({ message, at: Date.now() });
        this.adoptOrphans(waiting);
      })
      .catch((error) => this.onError(error));
  }

  private adoptOrphans(group: Group): void {
    this.pruneOrphans(group);
    while (group.orphans.length > 0) {
      const member = this.choose(group);
      if (!member) return;
      member.offer(group.orphans.shift()!.message, true);
    }
  }

  private pruneOrphans(group: Group): void {
    const tooOld = Date.now() - this.orphanLimits.maxAgeMs;
    while (group.orphans.length > 0 && group.orphans[0]!.at < tooOld) {
      group.orphans.shift();
      this.onError(
        new Error(`queue ${group.interest.queue}: a requeued message waited too long for a member; dropped`),
      );
    }
  }
}
