/**
 * What a gmq node accepts (spec §6), checked before anything goes on the wire: topic and bind key
 * names, route keys, delays and body sizes. Bad input fails with `invalid_argument` naming the
 * field (`payload_too_large` for a body), never as a request a real node would choke on.
 */
import { GmqError } from "gmq";

/** Topics and bind keys: the spec's allow-list. No `_` (`a_b`+`c` and `a`+`b_c` share a queue
 *  file), no space (the TCP line splits on it), no `/` (the node exits creating the file). */
const NAME = /^[A-Za-z0-9.-]{1,100}$/;
/** The node's largest delay, in seconds (3 days). */
export const MAX_DELAY_S = 259_200;
/** Route keys are regexes in `regex` topics. RE2 has no lookaround or backreferences, and a TCP
 *  line cannot hold a control character (nor an escaped space, once spaces travel as `\x20`). */
const NOT_RE2 = /\(\?<?[=!]|\\[1-9]|\\k<|\\\s|\p{Cc}/u;

export type Routing = "exact" | "regex";

/** A name as the node spells it: `/` becomes `.` with `slashAsDot`. */
export const wireName = (name: string, slashAsDot: boolean): string =>
  slashAsDot ? name.replaceAll("/", ".") : name;

/** What is wrong with a topic or bind key, or undefined. */
export const nameProblem = (name: string): string | undefined =>
  NAME.test(name) ? undefined : `must be 1-100 of A-Za-z0-9.-: "${name}"`;

/** A name as the node spells it, or `invalid_argument` naming `field`. */
export function checkName(name: string, field: string, slashAsDot: boolean): string {
  const wire = wireName(name, slashAsDot);
  const problem = nameProblem(wire);
  if (problem) throw GmqError.invalid(field, problem);
  return wire;
}

/** The route key to send: empty goes to `default`; `exact` keys are bind keys; `regex` keys must
 *  be patterns RE2 accepts (a TCP line cannot hold a space: it travels as `\x20`). */
export function routeKeyFor(key: string | undefined, routing: Routing, tcp: boolean): string {
  if (!key) return "";
  if (routing === "exact") return checkName(key, "routeKey", false);
  try {
    if (NOT_RE2.test(key)) throw key;
    new RegExp(key);
  } catch {
    throw GmqError.invalid("routeKey", `not an RE2 pattern: "${key}"`);
  }
  return tcp ? key.replaceAll(" ", "\\x20") : key;
}

/** `delayMs` as the node's whole seconds, rounded up. */
export function delaySeconds(delayMs: number | undefined): number {
  const seconds = Math.ceil((delayMs ?? 0) / 1000);
  if (!(seconds >= 0 && seconds <= MAX_DELAY_S)) {
    throw GmqError.invalid("delayMs", `must be at most ${MAX_DELAY_S} s on the gmq node`);
  }
  return seconds;
}

export const encoder = new TextEncoder();

/** Fails with `payload_too_large` when `body` (as UTF-8) is over `limit` bytes. */
export function checkBodySize(body: string, limit: number): void {
  // A UTF-16 unit is at most 3 UTF-8 bytes: short bodies need no encoding to be measured.
  if (body.length * 3 > limit) checkSize(encoder.encode(body).byteLength, limit);
}

export function checkSize(size: number, limit: number): void {
  if (size > limit) {
    throw new GmqError("payload_too_large", `payload: ${size} bytes, over ${limit}`, { field: "payload" });
  }
}
