/**
 * gnode emulator building blocks that need Go-exact behaviour: Atoi parsing, Go's UTF-8
 * replacement, the RecvMsgData decoder, RE2 translation, the manual clock and snowflake ids.
 */

import { createManualClock, idTimeMs } from "gmq/testing";
import { describe, expect, it } from "vitest";
import { goParseInt, goUint32, goUtf8 } from "../adapters/testing/gnode/go-values.js";
import { compileRe2, re2Search } from "../adapters/testing/gnode/re2.js";
import { decodeRecvMsg } from "../adapters/testing/gnode/recv-msg.js";
import { Snowflake } from "../adapters/testing/gnode/snowflake.js";

const bytes = (s: string) => Buffer.from(s, "utf8");

describe("Go integers", () => {
  it("parses like strconv.Atoi with the error ignored", () => {
    const cases: Array<[string, bigint]> = [
      ["42", 42n],
      ["+7", 7n],
      ["-7", -7n],
      ["007", 7n],
      ["", 0n],
      ["+", 0n],
      ["1.0", 0n],
      [" 1", 0n],
      ["1 ", 0n],
      ["1e3", 0n],
      ["0x10", 0n],
      ["1_000", 0n],
      ["９", 0n],
      ["9223372036854775807", 9223372036854775807n],
      ["9223372036854775808", 9223372036854775807n],
      ["-99999999999999999999", -9223372036854775808n],
    ];
    for (const [text, value] of cases) expect([text, goParseInt(text)]).toEqual([text, value]);
  });

  it("converts to uint32 like Go", () => {
    expect(goUint32(-1n)).toBe(4294967295);
    expect(goUint32(4294967296n + 5n)).toBe(5);
    expect(goUint32(-9223372036854775808n)).toBe(0);
  });
});

describe("goUtf8", () => {
  it("replaces each invalid byte with one U+FFFD, as Go's JSON encoder does", () => {
    const cases: Array<[number[], string]> = [
      [[0x61, 0x62], "ab"],
      [[0xff], "\ufffd"],
      [[0xe2, 0x82], "\ufffd\ufffd"],
      [[0xe2, 0x82, 0xac], "€"],
      [[0xc0, 0x80], "\ufffd\ufffd"],
      [[0xed, 0xa0, 0x80], "\ufffd\ufffd\ufffd"],
      [[0xf4, 0x90, 0x80, 0x80], "\ufffd\ufffd\ufffd\ufffd"],
      [[0xf0, 0x9f, 0x98, 0x80, 0x80], "😀\ufffd"],
    ];
    for (const [input, text] of cases) expect(goUtf8(Uint8Array.from(input))).toBe(text);
  });
});

describe("RecvMsgData decoding", () => {
  it("decodes the four fields, skipping nulls and unknown keys", () => {
    expect(
      decodeRecvMsg(
        bytes('{"topic":"t","route_key":"r","body":"b\\u00e9\\n","delay":-3,"x":{"y":[1,true,null]}}'),
      ),
    ).toEqual({ msg: { topic: "t", routeKey: "r", body: "bé\n", delay: -3n } });
    expect(decodeRecvMsg(bytes('{"body":null,"delay":null}'))).toEqual({
      msg: { topic: "", routeKey: "", body: "", delay: 0n },
    });
    expect(decodeRecvMsg(bytes("null"))).toEqual({ msg: { topic: "", routeKey: "", body: "", delay: 0n } });
  });

  it("matches keys exactly first, then case-insensitively; the last duplicate wins", () => {
    expect(decodeRecvMsg(bytes('{"BODY":"a","Body":"b","ROUTE_KEY":"r","routeKey":"no"}')).msg).toMatchObject(
      {
        body: "b",
        routeKey: "r",
      },
    );
  });

  it("keeps decoding after a type error and reports the first one", () => {
    const r = decodeRecvMsg(bytes('{"delay":"5","body":7,"route_key":"kept","topic":"t"}'));
    expect(r.error).toBe("json: cannot unmarshal string into Go struct field RecvMsgData.delay of type int");
    expect(r.msg).toEqual({ topic: "t", routeKey: "kept", body: "", delay: 0n });
  });

  it("names the offending value like Go", () => {
    const err = (json: string) => decodeRecvMsg(bytes(json)).error;
    expect(err('{"delay":1.5}')).toContain("unmarshal number 1.5 into Go struct field RecvMsgData.delay");
    expect(err('{"delay":1e2}')).toContain("unmarshal number 1e2 into");
    expect(err('{"delay":9223372036854775808}')).toContain("unmarshal number 9223372036854775808 into");
    expect(err('{"delay":true}')).toContain("unmarshal bool into");
    expect(err('{"body":[]}')).toBe(
      "json: cannot unmarshal array into Go struct field RecvMsgData.body of type string",
    );
    expect(err('"x"')).toBe("json: cannot unmarshal string into Go value of type gnode.RecvMsgData");
    expect(err("12")).toBe("json: cannot unmarshal number into Go value of type gnode.RecvMsgData");
  });

  it("decodes nothing on a syntax error", () => {
    for (const json of [
      "",
      "{",
      '{"body":"x"',
      '{"body":"x"}}',
      "{'body':1}",
      '{"body":"a\nb"}',
      "[1,]",
      "01",
      "tru",
    ]) {
      const r = decodeRecvMsg(bytes(json));
      expect([json, r.msg.body, typeof r.error]).toEqual([json, "", "string"]);
      expect(r.error!.length).toBeGreaterThan(0);
    }
    expect(decodeRecvMsg(bytes("")).error).toBe("unexpected end of JSON input");
  });

  it("turns bad UTF-8 and lone surrogate escapes into U+FFFD, keeps valid pairs", () => {
    const raw = Buffer.concat([bytes('{"body":"a'), Buffer.from([0xff]), bytes('\\ud800\\ud83d\\ude00"}')]);
    expect(decodeRecvMsg(raw).msg.body).toBe("a\ufffd\ufffd😀");
  });
});

describe("RE2 route keys", () => {
  it("searches unanchored", () => {
    expect(re2Search("home", "myhomework")).toBe(true);
    expect(re2Search("^home$", "homework")).toBe(false);
    expect(re2Search("e", "default")).toBe(true);
  });

  it("refuses what Go's regexp refuses", () => {
    for (const p of [
      "(",
      "a)",
      "[",
      "x**",
      "(?=a)",
      "(?!a)",
      "(?<=a)b",
      "(?<!a)b",
      "(a)\\1",
      "\\8",
      "\\k<x>",
      "\\cA",
      "\\u0041",
      "\\Z",
      "(?U)a",
      "a(?i)b",
      "a{1001}",
      "\\x{110000}",
      "\\",
    ]) {
      expect([p, compileRe2(p)]).toEqual([p, null]);
    }
  });

  it("translates RE2-only syntax", () => {
    const yes: Array<[string, string]> = [
      ["(?i)abc", "xABCx"],
      ["(?s)a.b", "a\nb"],
      ["\\Aab\\z", "ab"],
      ["[[:upper:]]+", "ABC"],
      ["^[[:^digit:]]+$", "abc"],
      ["\\Q.*\\E", "a.*b"],
      ["(?P<n>a)b", "ab"],
      ["\\x41\\x{42}", "AB"],
      ["\\101", "A"],
      ["\\pL\\p{Greek}", "aα"],
      ["a{,2}", "a{,2}"],
      ["[]a]", "]"],
      ["\\_\\-\\#", "_-#"],
    ];
    for (const [p, text] of yes) expect([p, re2Search(p, text)]).toEqual([p, true]);
    const no: Array<[string, string]> = [
      ["a.b", "a\nb"],
      ["\\s", "\u00a0"],
      ["\\s", "\u000b"],
      ["^.$", "😀x"],
    ];
    for (const [p, text] of no) expect([p, re2Search(p, text)]).toEqual([p, false]);
    expect(re2Search("^.$", "😀")).toBe(true);
  });
});

describe("manual clock and ids", () => {
  it("moves only when told", () => {
    const clock = createManualClock(1_000_000);
    expect(clock.now()).toBe(1_000_000);
    expect(clock.advance(1500)).toBe(1_001_500);
    clock.set(5);
    expect(clock.now()).toBe(5);
    expect(() => clock.advance(-1)).toThrow(RangeError);
  });

  it("mints strictly increasing ids that encode time and node", () => {
    const clock = createManualClock(1_754_000_000_000);
    const ids = new Snowflake(5, clock);
    const a = ids.next();
    clock.advance(1);
    const b = ids.next();
    expect(b > a).toBe(true);
    expect(idTimeMs(a)).toBe(1_754_000_000_000);
    expect(idTimeMs(b.toString())).toBe(1_754_000_000_001);
    expect((a >> 12n) & 1023n).toBe(5n);
    let last = b;
    for (let i = 0; i < 5000; i++) {
      const next = ids.next();
      expect(next > last).toBe(true);
      last = next;
    }
  });
});
