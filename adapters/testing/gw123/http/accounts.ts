/**
 * The web module's users table and the Redis keys of the SMS login flow (spec §3, "Login flow"):
 * one code per mobile, `SETNX` with a 60 s expiry, so the same key is both the code and the
 * rate limit.
 */

import { randomInt } from "node:crypto";
import type { TestClock as Clock } from "../../clock.js";

export interface User {
  readonly id: number;
  readonly name: string;
  readonly avatar: string;
  readonly email: string;
  readonly mobile: string;
  /** Kept in clear here; upstream stores an HMAC of it. */
  readonly password: string;
}

export interface NewUser {
  readonly mobile: string;
  readonly password: string;
  /** Default: the mobile number, as registration sets it. */
  readonly name?: string;
  readonly avatar?: string;
  readonly email?: string;
}

export class UserTable {
  readonly #users: User[] = [];
  #nextId = 1;

  get all(): readonly User[] {
    return [...this.#users];
  }

  add(user: NewUser): User {
    const row: User = {
      id: this.#nextId++,
      name: user.name ?? user.mobile,
      avatar: user.avatar ?? "",
      email: user.email ?? "",
      mobile: user.mobile,
      password: user.password,
    };
    this.#users.push(row);
    return row;
  }

  byId(id: number): User | undefined {
    return this.#users.find((u) => u.id === id);
  }

  /** `WHERE mobile = ?` returns the first match. */
  byMobile(mobile: string): User | undefined {
    return this.#users.find((u) => u.mobile === mobile);
  }
}

/** An SMS the server "sent" (published as a `sendMobileMessage` event upstream). */
export interface SentSms {
  readonly mobile: string;
  readonly code: string;
  /** Clock time in ms. */
  readonly at: number;
}

export const SMS_CODE_TTL_MS = 60_000;

export class SmsCodes {
  readonly #codes = new Map<string, { code: string; expiresAt: number }>();
  readonly sent: SentSms[] = [];

  constructor(private readonly clock: Clock) {}

  /** SETNX with a one-minute expiry: a new code, or undefined while the previous one is alive. */
  send(mobile: string): string | undefined {
    if (this.code(mobile) !== "") return undefined;
    // rand.Int31n(10000), lifted to at least 1000.
    let n = randomInt(10_000);
    if (n < 1000) n += 1000;
    const code = String(n);
    const at = this.clock.now();
    this.#codes.set(mobile, { code, expiresAt: at + SMS_CODE_TTL_MS });
    this.sent.push({ mobile, code, at });
    return code;
  }

  /** GET of the key: the live code, or "" when none was sent or it expired. */
  code(mobile: string): string {
    const entry = this.#codes.get(mobile);
    if (!entry || this.clock.now() >= entry.expiresAt) return "";
    return entry.code;
  }
}
