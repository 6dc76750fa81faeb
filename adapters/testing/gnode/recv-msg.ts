/**
 * `json.Unmarshal(data, &RecvMsgData{})` as gnode runs it on a `/push` `data` field and on each
 * `mpub` item: `{"body":str,"topic":str,"delay":int,"route_key":str}`. Keys match exactly or
 * case-insensitively, unknown keys and nulls are skipped, the last duplicate wins, and a type error
 * is remembered while the other fields still decode (which is why a bad `mpub` item is still
 * pushed). A syntax error decodes nothing. Texts follow Go's; clients must not parse them.
 */

import { Buffer } from "node:buffer";
import { goUtf8 } from "./go-values.js";

export interface RecvMsg {
  body: string;
  topic: string;
  routeKey: string;
  /** int64, exactly as decoded. */
  delay: bigint;
}

export interface RecvMsgResult {
  msg: RecvMsg;
  /** Go's error text, or undefined when Unmarshal returned nil. */
  error?: string;
}

type Kind = "string" | "number" | "bool" | "null" | "object" | "array";
interface JsonValue {
  kind: Kind;
  /** string: the decoded text; number: the literal. */
  text?: string;
  entries?: Array<[string, JsonValue]>;
}

class SyntaxErr extends Error {}

const FIELDS: Record<string, { name: keyof RecvMsg; tag: string; type: "string" | "int" }> = {
  body: { name: "body", tag: "body", type: "string" },
  topic: { name: "topic", tag: "topic", type: "string" },
  delay: { name: "delay", tag: "delay", type: "int" },
  route_key: { name: "routeKey", tag: "route_key", type: "string" },
};

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

export function decodeRecvMsg(data: Uint8Array): RecvMsgResult {
  const msg: RecvMsg = { body: "", topic: "", routeKey: "", delay: 0n };
  let root: JsonValue;
  try {
    root = new Parser(data).document();
  } catch (e) {
    if (e instanceof SyntaxErr) return { msg, error: e.message };
    throw e;
  }
  if (root.kind === "null") return { msg };
  if (root.kind !== "object") {
    return { msg, error: `json: cannot unmarshal ${root.kind} into Go value of type gnode.RecvMsgData` };
  }
  let error: string | undefined;
  for (const [key, value] of root.entries!) {
    const field = FIELDS[key] ?? FIELDS[key.toLowerCase()];
    if (!field || value.kind === "null") continue;
    const problem = assign(msg, field, value);
    if (problem && error === undefined) {
      error = `json: cannot unmarshal ${problem} into Go struct field RecvMsgData.${field.tag} of type ${field.type}`;
    }
  }
  return error === undefined ? { msg } : { msg, error };
}

/** Returns Go's description of the offending value, or undefined when it was stored. */
function assign(msg: RecvMsg, field: (typeof FIELDS)[string], value: JsonValue): string | undefined {
  if (field.type === "string") {
    if (value.kind !== "string") return value.kind;
    (msg[field.name] as string) = value.text!;
    return undefined;
  }
  if (value.kind !== "number") return value.kind;
  const literal = value.text!;
  if (!/^-?[0-9]+$/.test(literal)) return `number ${literal}`;
  const n = BigInt(literal);
  if (n > INT64_MAX || n < INT64_MIN) return `number ${literal}`;
  msg.delay = n;
  return undefined;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** Go's decoder refuses nesting deeper than this. */
const MAX_DEPTH = 10000;

class Parser {
  #i = 0;
  #depth = 0;
  constructor(private readonly b: Uint8Array) {}

  document(): JsonValue {
    const v = this.value("looking for beginning of value");
    this.skipWs();
    if (this.#i < this.b.length) throw this.invalid("after top-level value");
    return v;
  }

  private skipWs(): void {
    while (this.#i < this.b.length && WS.has(this.b[this.#i]!)) this.#i++;
  }

  private peek(): number {
    if (this.#i >= this.b.length) throw new SyntaxErr("unexpected end of JSON input");
    return this.b[this.#i]!;
  }

  private invalid(context: string): SyntaxErr {
    const c = this.b[this.#i]!;
    const shown =
      c === 0x27
        ? "'\\''"
        : c === 0x22
          ? `'"'`
          : `'${JSON.stringify(goUtf8(this.b.subarray(this.#i, this.#i + 1))).slice(1, -1)}'`;
    return new SyntaxErr(`invalid character ${shown} ${context}`);
  }

  private value(context: string): JsonValue {
    this.skipWs();
    const c = this.peek();
    if (c === 0x7b || c === 0x5b) {
      if (++this.#depth > MAX_DEPTH) throw new SyntaxErr("exceeded max depth");
      const v = c === 0x7b ? this.object() : this.array();
      this.#depth--;
      return v;
    }
    if (c === 0x22) return { kind: "string", text: this.string() };
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return { kind: "number", text: this.number() };
    if (c === 0x74) return this.literal("true", "bool");
    if (c === 0x66) return this.literal("false", "bool");
    if (c === 0x6e) return this.literal("null", "null");
    throw this.invalid(context);
  }

  private literal(word: string, kind: Kind): JsonValue {
    for (let k = 0; k < word.length; k++) {
      const c = this.peek();
      if (c !== word.charCodeAt(k)) throw this.invalid(`in literal ${word} (expecting '${word[k]}')`);
      this.#i++;
    }
    return { kind };
  }

  private object(): JsonValue {
    this.#i++;
    const entries: Array<[string, JsonValue]> = [];
    this.skipWs();
    if (this.peek() === 0x7d) {
      this.#i++;
      return { kind: "object", entries };
    }
    for (;;) {
      this.skipWs();
      if (this.peek() !== 0x22) throw this.invalid("looking for beginning of object key string");
      const key = this.string();
      this.skipWs();
      if (this.peek() !== 0x3a) throw this.invalid("after object key");
      this.#i++;
      entries.push([key, this.value("looking for beginning of value")]);
      this.skipWs();
      const c = this.peek();
      this.#i++;
      if (c === 0x7d) return { kind: "object", entries };
      if (c !== 0x2c) {
        this.#i--;
        throw this.invalid("after object key:value pair");
      }
    }
  }

  private array(): JsonValue {
    this.#i++;
    this.skipWs();
    if (this.peek() === 0x5d) {
      this.#i++;
      return { kind: "array" };
    }
    for (;;) {
      this.value("looking for beginning of value");
      this.skipWs();
      const c = this.peek();
      this.#i++;
      if (c === 0x5d) return { kind: "array" };
      if (c !== 0x2c) {
        this.#i--;
        throw this.invalid("after array element");
      }
    }
  }

  private number(): string {
    const start = this.#i;
    const digit = () => this.#i < this.b.length && this.b[this.#i]! >= 0x30 && this.b[this.#i]! <= 0x39;
    if (this.b[this.#i] === 0x2d) this.#i++;
    if (!digit()) {
      if (this.#i >= this.b.length) throw new SyntaxErr("unexpected end of JSON input");
      throw this.invalid("in numeric literal");
    }
    if (this.b[this.#i] === 0x30) this.#i++;
    else while (digit()) this.#i++;
    if (this.b[this.#i] === 0x2e) {
      this.#i++;
      if (!digit()) {
        if (this.#i >= this.b.length) throw new SyntaxErr("unexpected end of JSON input");
        throw this.invalid("after decimal point in numeric literal");
      }
      while (digit()) this.#i++;
    }
    if (this.b[this.#i] === 0x65 || this.b[this.#i] === 0x45) {
      this.#i++;
      if (this.b[this.#i] === 0x2b || this.b[this.#i] === 0x2d) this.#i++;
      if (!digit()) {
        if (this.#i >= this.b.length) throw new SyntaxErr("unexpected end of JSON input");
        throw this.invalid("in exponent of numeric literal");
      }
      while (digit()) this.#i++;
    }
    return Buffer.from(this.b.buffer, this.b.byteOffset + start, this.#i - start).toString("latin1");
  }

  /** A string literal, unquoted like Go: bad UTF-8 and lone surrogate escapes become U+FFFD. */
  private string(): string {
    this.#i++;
    let out = "";
    let runStart = this.#i;
    const flush = () => {
      if (this.#i > runStart) out += goUtf8(this.b.subarray(runStart, this.#i));
    };
    for (;;) {
      const c = this.peek();
      if (c === 0x22) {
        flush();
        this.#i++;
        return out;
      }
      if (c < 0x20) throw this.invalid("in string literal");
      if (c !== 0x5c) {
        this.#i++;
        continue;
      }
      flush();
      this.#i++;
      const e = this.peek();
      const simple: Record<number, string> = {
        34: '"',
        92: "\\",
        47: "/",
        98: "\b",
        102: "\f",
        110: "\n",
        114: "\r",
        116: "\t",
      };
      if (simple[e] !== undefined) {
        out += simple[e];
        this.#i++;
      } else if (e === 0x75) {
        this.#i++;
        out += this.unicodeEscape();
      } else {
        throw this.invalid("in string escape code");
      }
      runStart = this.#i;
    }
  }

  private hex4(): number {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.peek();
      const d =
        c >= 0x30 && c <= 0x39
          ? c - 0x30
          : c >= 0x61 && c <= 0x66
            ? c - 87
            : c >= 0x41 && c <= 0x46
              ? c - 55
              : -1;
      if (d < 0) throw this.invalid("in \\u hexadecimal character escape");
      v = v * 16 + d;
      this.#i++;
    }
    return v;
  }

  private unicodeEscape(): string {
    const hi = this.hex4();
    if (hi < 0xd800 || hi > 0xdfff) return String.fromCharCode(hi);
    if (hi <= 0xdbff && this.b[this.#i] === 0x5c && this.b[this.#i + 1] === 0x75) {
      const save = this.#i;
      this.#i += 2;
      const lo = this.hex4();
      if (lo >= 0xdc00 && lo <= 0xdfff) return String.fromCharCode(hi, lo);
      // Go: the first half becomes U+FFFD and the second escape is decoded on its own.
      this.#i = save;
    }
    return "\ufffd";
  }
}
