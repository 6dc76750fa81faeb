import { encoder } from "./codec.js";
import { GmqError } from "./errors.js";

const MAX_TOPIC_BYTES = 65_535;

/** What is wrong with any name: not a string, empty, or holding NUL. */
export function basicNameProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return `must be a string, got ${typeof value}`;
  if (value.length === 0) return "must not be empty";
  if (value.includes("\u0000")) return "must not contain NUL";
  return undefined;
}

function sizeProblem(value: string): string | undefined {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: most topics need no encoding to be measured.
  if (value.length * 3 > MAX_TOPIC_BYTES && encoder.encode(value).byteLength > MAX_TOPIC_BYTES) {
    return `must be at most ${MAX_TOPIC_BYTES} bytes`;
  }
  return undefined;
}

/** MQTT topic name rules: no wildcards, at most 65,535 UTF-8 bytes. */
export function mqttTopicProblem(topic: string): string | undefined {
  if (topic.includes("+") || topic.includes("#")) return `must not contain wildcards (+ or #): "${topic}"`;
  return sizeProblem(topic);
}

/** MQTT filter rules: `+` is a whole level, `#` only the whole last level. */
export function mqttFilterProblem(filter: string): string | undefined {
  const levels = filter.split("/");
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1)) {
      return `"#" must be the whole last level: "${filter}"`;
    }
    if (level.includes("+") && level !== "+") return `"+" must be a whole level: "${filter}"`;
  }
  return sizeProblem(filter);
}

/** A name by `rule` (after the basic checks); fails with `invalid_argument` naming the field. */
export function checkName(
  value: unknown,
  rule: (value: string) => string | undefined,
  field: string,
): asserts value is string {
  const problem = basicNameProblem(value) ?? rule(value as string);
  if (problem) throw GmqError.invalid(field, problem);
}

/** A topic to publish to, by the MQTT rules. */
export function validateTopic(topic: unknown, field = "topic"): asserts topic is string {
  checkName(topic, mqttTopicProblem, field);
}

/** A subscription filter, by the MQTT rules. */
export function validateFilter(filter: unknown, field = "pattern"): asserts filter is string {
  checkName(filter, mqttFilterProblem, field);
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
