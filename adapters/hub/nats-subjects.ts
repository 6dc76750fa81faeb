/**
 * gmq topics on NATS subjects. A topic level becomes one subject token: kept as it is when it
 * is only `[A-Za-z0-9_-]`, otherwise `~` + base64url of its UTF-8 (so `.`, `*`, `>`, spaces and
 * anything else are safe, and the two forms never collide). `+` maps to `*` and `#` to `>`
 * plus the parent subject, since MQTT's `a/#` also matches `a`.
 */
import { createHash } from "node:crypto";

const RAW = /^[A-Za-z0-9_-]+$/;

export function token(level: string): string {
  return RAW.test(level) ? level : `~${Buffer.from(level, "utf8").toString("base64url")}`;
}

export function topicSubject(prefix: string, kind: string, topic: string): string {
  return `${prefix}.${kind}.${topic.split("/").map(token).join(".")}`;
}

/** The subjects that together match an MQTT pattern. */
export function patternSubjects(prefix: string, kind: string, pattern: string): string[] {
  const levels = pattern.split("/");
  const tokens = levels.map((level) => (level === "+" ? "*" : level === "#" ? ">" : token(level)));
  const subjects = [`${prefix}.${kind}.${tokens.join(".")}`];
  if (levels.length > 1 && levels[levels.length - 1] === "#") {
    subjects.push(`${prefix}.${kind}.${tokens.slice(0, -1).join(".")}`);
  }
  return subjects;
}

/** A short stable token for anything (queue group subjects). */
export function digest(text: string): string {
  return createHash("sha256").update(text).digest("base64url").slice(0, 22);
}

/** A KV key for a client id (KV keys allow `[-/_=.a-zA-Z0-9]`). */
export function kvKey(clientId: string): string {
  return `c.${Buffer.from(clientId, "utf8").toString("base64url")}`;
}
