import { GmqError } from "./errors.js";

const MAX_TOPIC_BYTES = 65_535;
const encoder = new TextEncoder();

function validateCommon(value: unknown, field: string): asserts value is string {
  if (typeof value !== "string") throw GmqError.invalid(field, `must be a string, got ${typeof value}`);
  if (value.length === 0) throw GmqError.invalid(field, "must not be empty");
  if (value.includes("\u0000")) throw GmqError.invalid(field, "must not contain NUL");
  // A UTF-16 code unit is at most 3 UTF-8 bytes: most topics need no encoding to be measured.
  if (value.length * 3 > MAX_TOPIC_BYTES && encoder.encode(value).byteLength > MAX_TOPIC_BYTES) {
    throw GmqError.invalid(field, `must be at most ${MAX_TOPIC_BYTES} bytes`);
  }
}

/** A topic to publish to: no wildcards. */
export function validateTopic(topic: unknown, field = "topic"): asserts topic is string {
  validateCommon(topic, field);
  if (topic.includes("+") || topic.includes("#")) {
    throw GmqError.invalid(field, `must not contain wildcards (+ or #): "${topic}"`);
  }
}

/** A subscription filter: `+` is a whole level, `#` only the whole last level. */
export function validateFilter(filter: unknown, field = "pattern"): asserts filter is string {
  validateCommon(filter, field);
  const levels = filter.split("/");
  levels.forEach((level, i) => {
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1)) {
      throw GmqError.invalid(field, `"#" must be the whole last level: "${filter}"`);
    }
    if (level.includes("+") && level !== "+") {
      throw GmqError.invalid(field, `"+" must be a whole level: "${filter}"`);
    }
  });
}

/** Splits `$share/<group>/<filter>` into its parts (MQTT 5 shared subscriptions). */
export function parseSharedFilter(pattern: string): { filter: string; group?: string } {
  if (!pattern.startsWith("$share/")) return { filter: pattern };
  const rest = pattern.slice("$share/".length);
  const slash = rest.indexOf("/");
  if (slash <= 0 || slash === rest.length - 1) {
    throw GmqError.invalid("pattern", `a shared subscription is $share/<group>/<filter>: "${pattern}"`);
  }
  return { group: rest.slice(0, slash), filter: rest.slice(slash + 1) };
}

export function hasWildcard(filter: string): boolean {
  return filter.includes("+") || filter.includes("#");
}

/** MQTT matching: `+` one level, `#` the rest (including none); `$…` topics need a literal first level. */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  if (topic.startsWith("$") && !filter.startsWith("$")) return false;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === "#") return true;
    if (i >= t.length) return false;
    if (level !== "+" && level !== t[i]) return false;
  }
  return f.length === t.length;
}
