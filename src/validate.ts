/**
 * Argument checking, table-driven: a rule names the kind of value a field takes (or lists the
 * values it may be), and a value of the wrong kind fails at once with `invalid_argument` naming
 * the field and saying what it got.
 */
import { GmqError } from "./errors.js";

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null;

/** What a valid value of each kind is, and how a message describes it. */
const KINDS = {
  ms: [
    (v: unknown) => typeof v === "number" && v >= 0 && v < Number.POSITIVE_INFINITY,
    "a finite number >= 0",
  ],
  count: [(v: unknown) => Number.isInteger(v) && (v as number) > 0, "a positive integer"],
  size: [(v: unknown) => Number.isInteger(v) && (v as number) >= 0, "a non-negative integer"],
  name: [(v: unknown) => typeof v === "string" && v !== "", "a non-empty string"],
  string: [(v: unknown) => typeof v === "string", "a string"],
  boolean: [(v: unknown) => typeof v === "boolean", "a boolean"],
  number: [(v: unknown) => typeof v === "number", "a number"],
  bytes: [(v: unknown) => v instanceof Uint8Array, "a Uint8Array"],
  function: [(v: unknown) => typeof v === "function", "a function"],
  object: [isObject, "an object"],
  qos: [(v: unknown) => v === 0 || v === 1 || v === 2, "0, 1 or 2"],
  signal: [(v: unknown) => isObject(v) && typeof v.aborted === "boolean", "an AbortSignal"],
  codec: [
    (v: unknown) => isObject(v) && typeof v.encode === "function" && typeof v.decode === "function",
    "a codec, with encode(value) and decode(bytes) functions",
  ],
  /** Each header is checked too, and named (`headers.<name>`). */
  headers: [isObject, "an object of strings"],
} as const;

/** A kind of value, or the values a field may take. */
export type Rule = keyof typeof KINDS | readonly unknown[];

function got(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object" || typeof value === "function") return `a ${typeof value}`;
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

function fail(value: unknown, rule: Rule, field: string): never {
  const what =
    typeof rule === "object" ? `one of ${rule.map((v) => JSON.stringify(v)).join(", ")}` : KINDS[rule][1];
  throw GmqError.invalid(field, `must be ${what}, got ${got(value)}`);
}

/** Checks one value, named `prefix + name` in an error (undefined passes unless `required`). */
export function checkValue(value: unknown, rule: Rule, name: string, prefix = "", required = false): void {
  if (value === undefined && !required) return;
  if (!(typeof rule === "object" ? rule.includes(value) : KINDS[rule][0](value)))
    fail(value, rule, prefix + name);
  if (rule === "headers") {
    for (const header in value as object) {
      checkValue((value as Record<string, unknown>)[header], "string", `${prefix}${name}.${header}`);
    }
  }
}

/** Checks the fields of `value` that `rules` names; `value` itself must be an object. */
export function check(
  value: unknown,
  rules: Readonly<Record<string, Rule>>,
  field = "options",
  required = false,
): void {
  if (!isObject(value)) fail(value, "object", field);
  const prefix = field === "options" ? "" : `${field}.`;
  for (const name in rules) checkValue(value[name], rules[name]!, name, prefix, required);
}
