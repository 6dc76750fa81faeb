/**
 * Route keys in fuzzy mode are Go RE2 patterns searched unanchored in each bind key (spec §1, §7.1
 * #5). This translates RE2 syntax to an equivalent JS RegExp (unicode mode, so `.` and classes work
 * on code points as Go's do), and returns null for anything Go's `regexp.MatchString` would reject,
 * which then matches nothing: lookarounds, backreferences, unknown escapes, bad syntax. A few Go
 * forms JS lacks are rewritten (`\A`, `\z`, `\Q…\E`, `\x{…}`, `[[:alpha:]]`, `(?P<n>…)`, a leading
 * `(?i)`); inline flags anywhere else and `(?U)` are refused rather than guessed.
 */

const SYNTAX = new Set("^$\\.*+?()[]{}|/");
const WORD = /^[A-Za-z0-9_]$/;
const ALNUM = /^[A-Za-z0-9]$/;
const HEX = /^[0-9A-Fa-f]$/;
const OCTAL = /^[0-7]$/;
const MAX_REPEAT = 1000;

const POSIX: Record<string, string> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  ascii: "\\x00-\\x7F",
  blank: "\\t ",
  cntrl: "\\x00-\\x1F\\x7F",
  digit: "0-9",
  graph: "\\x21-\\x7E",
  lower: "a-z",
  print: "\\x20-\\x7E",
  punct: "\\x21-\\x2F\\x3A-\\x40\\x5B-\\x60\\x7B-\\x7E",
  space: "\\t\\n\\x0B\\f\\r ",
  upper: "A-Z",
  word: "0-9A-Za-z_",
  xdigit: "0-9A-Fa-f",
};

const GENERAL_CATEGORIES = new Set(
  "C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs Any".split(
    " ",
  ),
);

const GO_SPACE = "\\t\\n\\f\\r ";

class Reject extends Error {}

const cache = new Map<string, RegExp | null>();

/** The compiled pattern, or null when Go would fail to compile it. Cached. */
export function compileRe2(pattern: string): RegExp | null {
  const hit = cache.get(pattern);
  if (hit !== undefined) return hit;
  let re: RegExp | null = null;
  try {
    const { source, flags } = new Translator(pattern).run();
    re = new RegExp(source, flags);
  } catch {
    re = null;
  }
  if (cache.size >= 512) cache.clear();
  cache.set(pattern, re);
  return re;
}

/** `regexp.MatchString(pattern, text)` with the error treated as "no match". */
export function re2Search(pattern: string, text: string): boolean {
  return compileRe2(pattern)?.test(text) ?? false;
}

function literal(ch: string): string {
  if (SYNTAX.has(ch)) return `\\${ch}`;
  if (WORD.test(ch)) return ch;
  return `\\u{${ch.codePointAt(0)!.toString(16)}}`;
}

class Translator {
  readonly #c: string[];
  #i = 0;
  #out = "";
  #dotAll = false;

  constructor(pattern: string) {
    this.#c = Array.from(pattern);
  }

  run(): { source: string; flags: string } {
    let flags = "u";
    const lead = /^\(\?([imsU]+)\)/.exec(this.#c.join(""));
    if (lead) {
      if (lead[1]!.includes("U")) throw new Reject();
      for (const f of "ims") if (lead[1]!.includes(f)) flags += f;
      this.#dotAll = flags.includes("s");
      this.#i = Array.from(lead[0]).length;
    }
    while (this.#i < this.#c.length) this.atom();
    return { source: this.#out, flags };
  }

  private next(): string {
    const ch = this.#c[this.#i++];
    if (ch === undefined) throw new Reject();
    return ch;
  }

  private rest(): string {
    return this.#c.slice(this.#i).join("");
  }

  private atom(): void {
    const ch = this.next();
    switch (ch) {
      case "\\":
        this.#out += this.escape(false);
        return;
      case "[":
        this.#out += this.charClass();
        return;
      case "(":
        this.#out += this.group();
        return;
      case "{":
        this.#out += this.brace();
        return;
      case "}":
      case "]":
        this.#out += `\\${ch}`;
        return;
      case ".":
        this.#out += this.#dotAll ? "." : "[^\\n]";
        return;
      default:
        this.#out += "^$|)*+?".includes(ch) ? ch : literal(ch);
    }
  }

  private group(): string {
    if (this.#c[this.#i] !== "?") return "(";
    const m = /^\?(?:P?<([A-Za-z0-9_]+)>|:)/.exec(this.rest());
    if (!m) throw new Reject(); // lookarounds, inline flags mid-pattern, bad names
    this.#i += m[0].length;
    return m[1] === undefined ? "(?:" : `(?<${m[1]}>`;
  }

  /** `{n}`, `{n,}`, `{n,m}` repeat (n, m ≤ 1000); any other `{` is a literal in Go. */
  private brace(): string {
    const m = /^(\d+)(,(\d*))?\}/.exec(this.rest());
    if (!m) return "\\{";
    if (Number(m[1]) > MAX_REPEAT || (m[3] && Number(m[3]) > MAX_REPEAT)) throw new Reject();
    this.#i += m[0].length;
    return `{${m[0]}`;
  }

  private escape(inClass: boolean): string {
    const c = this.next();
    if (c >= "1" && c <= "7" && !OCTAL.test(this.#c[this.#i] ?? "")) throw new Reject(); // backreference
    if (c >= "0" && c <= "7") {
      let v = Number(c);
      for (let k = 0; k < 2 && OCTAL.test(this.#c[this.#i] ?? ""); k++) v = v * 8 + Number(this.next());
      return `\\u{${v.toString(16)}}`;
    }
    switch (c) {
      case "x":
        return this.hexEscape();
      case "a":
        return "\\x07";
      case "f":
      case "n":
      case "r":
      case "t":
      case "v":
      case "d":
      case "D":
      case "w":
      case "W":
        return `\\${c}`;
      case "s":
        return inClass ? GO_SPACE : `[${GO_SPACE}]`;
      case "S":
        return inClass ? "\\S" : `[^${GO_SPACE}]`;
      case "p":
      case "P":
        return this.unicodeClass(c === "P");
    }
    if (!inClass) {
      if (c === "b" || c === "B") return `\\${c}`;
      if (c === "A") return "(?<![\\s\\S])";
      if (c === "z") return "(?![\\s\\S])";
      if (c === "Q") return this.quoted();
    }
    const code = c.codePointAt(0)!;
    if (code >= 0x80 || ALNUM.test(c)) throw new Reject(); // \1…\9, \k, \u, \c, \C, \Z and friends
    return inClass && c === "-" ? "\\-" : literal(c);
  }

  private hexEscape(): string {
    let digits = "";
    if (this.#c[this.#i] === "{") {
      this.#i++;
      for (let ch = this.next(); ch !== "}"; ch = this.next()) {
        if (!HEX.test(ch)) throw new Reject();
        digits += ch;
      }
      if (!digits || Number.parseInt(digits, 16) > 0x10ffff) throw new Reject();
    } else {
      digits = this.next() + this.next();
      if (!HEX.test(digits[0]!) || !HEX.test(digits[1]!)) throw new Reject();
    }
    return `\\u{${Number.parseInt(digits, 16).toString(16)}}`;
  }

  private unicodeClass(negated: boolean): string {
    let name = this.next();
    if (name === "{") {
      name = "";
      for (let ch = this.next(); ch !== "}"; ch = this.next()) name += ch;
    }
    if (name.startsWith("^")) {
      negated = !negated;
      name = name.slice(1);
    }
    if (!/^[A-Za-z_]+$/.test(name)) throw new Reject();
    const body = GENERAL_CATEGORIES.has(name) ? name : `Script=${name}`;
    return `\\${negated ? "P" : "p"}{${body}}`;
  }

  private quoted(): string {
    let out = "";
    while (this.#i < this.#c.length) {
      if (this.#c[this.#i] === "\\" && this.#c[this.#i + 1] === "E") {
        this.#i += 2;
        break;
      }
      out += literal(this.next());
    }
    return out;
  }

  private charClass(): string {
    let out = "[";
    if (this.#c[this.#i] === "^") {
      this.#i++;
      out += "^";
    }
    const whole = /^\[:\^([a-z]+):\]\]/.exec(this.rest());
    if (whole && POSIX[whole[1]!] !== undefined && out === "[") {
      this.#i += whole[0].length;
      return `[^${POSIX[whole[1]!]}]`;
    }
    if (this.#c[this.#i] === "]") {
      this.#i++;
      out += "\\]";
    }
    for (;;) {
      const ch = this.next();
      if (ch === "]") return `${out}]`;
      if (ch === "\\") {
        out += this.escape(true);
      } else if (ch === "[" && this.#c[this.#i] === ":") {
        const m = /^:([a-z]+):\]/.exec(this.rest());
        if (!m || POSIX[m[1]!] === undefined) throw new Reject();
        this.#i += m[0].length;
        out += POSIX[m[1]!];
      } else {
        out += ch === "[" ? "\\[" : ch === "-" || WORD.test(ch) || ch === "^" ? ch : literal(ch);
      }
    }
  }
}
