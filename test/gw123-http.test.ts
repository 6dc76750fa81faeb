/**
 * startGw123Http(): the web module's `/gapi` JSON API (spec §3 and §6.2), with raw fetch.
 */

import { createHmac } from "node:crypto";
import {
  CommentTable,
  createManualClock,
  type Gw123Http,
  type Gw123HttpOptions,
  type ManualClock,
  startCommentServer,
  startGw123Http,
} from "gmq/testing";
import { createChannel, createClient, FetchTransport } from "nice-grpc-web";
import { afterEach, describe, expect, it } from "vitest";
import { CommentServiceDefinition } from "../examples/comments/generated/comment.js";

const MOBILE = "13800000000";
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function start(options: Gw123HttpOptions = {}): Promise<{ s: Gw123Http; clock: ManualClock }> {
  const clock = createManualClock(Date.UTC(2019, 8, 23, 8, 0, 0));
  const s = await startGw123Http({ clock, ...options });
  closers.push(() => s.close());
  return { s, clock };
}

interface Reply {
  status: number;
  text: string;
  headers: Headers;
  json: () => unknown;
}

async function call(
  s: Gw123Http,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; headers?: Record<string, string>; token?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined = options.raw;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(`${s.url}${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers, json: () => JSON.parse(text) };
}

async function register(s: Gw123Http, mobile = MOBILE, password = "pw") {
  await call(s, "POST", "/gapi/sendMessage", { body: { mobile } });
  const code = s.sms.filter((m) => m.mobile === mobile).at(-1)!.code;
  await call(s, "POST", "/gapi/register", { body: { mobile, password, code } });
}

async function login(s: Gw123Http, mobile = MOBILE, password = "pw"): Promise<string> {
  const reply = await call(s, "POST", "/gapi/login", { body: { mobile, password } });
  return (reply.json() as { data: { api_token: string } }).data.api_token;
}

describe("login flow", () => {
  it("sends an SMS code, rate-limits it for 60 s on the server clock, registers and logs in", async () => {
    const { s, clock } = await start();
    const first = await call(s, "POST", "/gapi/sendMessage", { body: { mobile: MOBILE } });
    expect([first.status, first.text]).toEqual([200, '{"code":0,"msg":"success","data":null}\n']);
    expect(first.headers.get("content-type")).toBe("application/json; charset=UTF-8");
    expect(s.sms).toHaveLength(1);
    expect(s.sms[0]!.code).toMatch(/^[1-9]\d{3}$/);

    clock.advance(59_999);
    const limited = await call(s, "POST", "/gapi/sendMessage", { body: { mobile: MOBILE } });
    expect([limited.status, limited.text]).toEqual([
      200,
      '{"code":402,"msg":"请稍等1分钟后尝试","data":null}\n',
    ]);
    const otherPhone = await call(s, "POST", "/gapi/sendMessage", { body: { mobile: "13900000000" } });
    expect(otherPhone.json()).toMatchObject({ code: 0 });

    clock.advance(1);
    // The key expired: the old code is gone and a new one can be sent.
    const expiredCode = await call(s, "POST", "/gapi/register", {
      body: { mobile: MOBILE, password: "pw", code: s.sms[0]!.code },
    });
    expect(expiredCode.json()).toEqual({ code: 402, msg: "验证码校验失败", data: null });
    expect((await call(s, "POST", "/gapi/sendMessage", { body: { mobile: MOBILE } })).json()).toMatchObject({
      code: 0,
    });
    const code = s.sms.at(-1)!.code;

    const wrong = await call(s, "POST", "/gapi/register", {
      body: { mobile: MOBILE, password: "pw", code: "0000" },
    });
    expect(wrong.json()).toEqual({ code: 402, msg: "验证码校验失败", data: null });
    const ok = await call(s, "POST", "/gapi/register", { body: { mobile: MOBILE, password: "pw", code } });
    expect(ok.text).toBe('{"code":0,"msg":"success","data":null}\n');
    const again = await call(s, "POST", "/gapi/register", { body: { mobile: MOBILE, password: "pw", code } });
    expect(again.json()).toEqual({ code: 402, msg: "手机号码已经注册", data: null });

    const badPassword = await call(s, "POST", "/gapi/login", { body: { mobile: MOBILE, password: "nope" } });
    expect(badPassword.json()).toEqual({ code: 402, msg: "账号或者密码错误", data: null });
    const noUser = await call(s, "POST", "/gapi/login", { body: { mobile: "1", password: "pw" } });
    expect(noUser.json()).toEqual({ code: 402, msg: "record not found", data: null });

    const loggedIn = await call(s, "POST", "/gapi/login", { body: { mobile: MOBILE, password: "pw" } });
    expect(loggedIn.text).toMatch(
      /^\{"code":0,"msg":"success","data":\{"api_token":"[\w-]+\.[\w-]+\.[\w-]+"\}\}\n$/,
    );
  });

  it("issues HS256 tokens with the claims of the spec", async () => {
    const { s } = await start({ jwtKey: "k3y" });
    await register(s);
    const token = await login(s);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    expect(JSON.parse(Buffer.from(header, "base64url").toString())).toEqual({ alg: "HS256", typ: "JWT" });
    expect(createHmac("sha256", "k3y").update(`${header}.${payload}`).digest("base64url")).toBe(signature);
    const iat = Date.UTC(2019, 8, 23, 8, 0, 0) / 1000;
    expect(Buffer.from(payload, "base64url").toString()).toBe(
      `{"aud":"mobile","exp":${iat + 7 * 24 * 3600},"jti":"1","iat":${iat},"iss":"xytschool",` +
        `"sub":"{\\"avatar\\":\\"\\",\\"mobile\\":\\"${MOBILE}\\",\\"name\\":\\"${MOBILE}\\"}"}`,
    );
    const user = await call(s, "GET", "/gapi/getUser", { token });
    expect(user.text).toBe(
      `{"code":0,"msg":"success","data":{"id":1,"name":"${MOBILE}","avatar":"","email":"","mobile":"${MOBILE}"}}\n`,
    );
  });

  it("binding failures of the login routes are 200 envelopes with code 404", async () => {
    const { s } = await start();
    const empty = await call(s, "POST", "/gapi/sendMessage", {
      headers: { "content-type": "application/json" },
    });
    expect(empty.text).toBe('{"code":404,"msg":"","data":null}\n');
    const wrongType = await call(s, "POST", "/gapi/login", { body: { mobile: 138, password: "pw" } });
    expect(wrongType.status).toBe(200);
    expect(wrongType.json()).toMatchObject({ code: 404, data: null });
    expect((wrongType.json() as { msg: string }).msg).toMatch(
      /^code=400, message=Unmarshal type error: expected=string, got=number, field=mobile/,
    );
    const form = await call(s, "POST", "/gapi/sendMessage", {
      raw: `mobile=${MOBILE}`,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(form.json()).toMatchObject({ code: 0 });
    const text = await call(s, "POST", "/gapi/login", {
      raw: "x",
      headers: { "content-type": "text/plain" },
    });
    expect(text.json()).toEqual({ code: 404, msg: "code=415, message=Unsupported Media Type", data: null });
  });
});

describe("JWT check", () => {
  it("refuses a missing or badly split Authorization header with the 401 body without data", async () => {
    const { s } = await start({ users: [{ mobile: MOBILE, password: "pw" }] });
    const token = s.mintToken({ userId: 1 });
    for (const authorization of [undefined, token, `Bearer  ${token}`, `Bearer ${token} x`, ""]) {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      const reply = await call(s, "GET", "/gapi/getUser", { headers });
      expect([reply.status, reply.text]).toEqual([200, '{"code":401,"msg":"授权失败"}\n']);
    }
    // The first word is not checked.
    const anyWord = await call(s, "GET", "/gapi/getUser", { headers: { authorization: `Token ${token}` } });
    expect(anyWord.json()).toMatchObject({ code: 0, data: { id: 1 } });
  });

  it("reports jwt-go's reasons: expiry on the server clock, signature, malformed, user id 0", async () => {
    const { s, clock } = await start({ users: [{ mobile: MOBILE, password: "pw" }] });
    const now = Math.floor(clock.now() / 1000);
    const msg = async (token: string) => {
      const reply = await call(s, "GET", "/gapi/getUser", { token });
      expect(reply.status).toBe(200);
      expect(Object.keys(reply.json() as object)).toEqual(["code", "msg"]);
      return (reply.json() as { code: number; msg: string }).msg;
    };
    expect(await msg(s.mintToken({ userId: 1, expiresAt: now - 10 }))).toBe(
      "授权失败1:token is expired by 10s",
    );
    expect(await msg(s.mintToken({ userId: 1, key: "other" }))).toBe("授权失败1:signature is invalid");
    expect(await msg("abc")).toBe("授权失败1:token contains an invalid number of segments");
    expect(await msg(s.mintToken({ userId: 0 }))).toBe("授权失败2");
    expect(await msg(s.mintToken({ userId: "admin" }))).toBe("授权失败2");

    const fresh = s.mintToken({ userId: 1 });
    clock.advance((7 * 24 * 3600 + 3661) * 1000);
    expect(await msg(fresh)).toBe("授权失败1:token is expired by 1h1m1s");
  });

  it("tokens from a login signing with another key fail (the Docker deployment's unsubstituted key)", async () => {
    const { s } = await start({ jwtKey: "real", loginJwtKey: ["$", "{JWT_KEY}"].join("") });
    await register(s);
    const token = await login(s);
    expect((await call(s, "GET", "/gapi/getUser", { token })).json()).toEqual({
      code: 401,
      msg: "授权失败1:signature is invalid",
    });
  });

  it("a valid token for a user that does not exist is a 500", async () => {
    const { s } = await start();
    const reply = await call(s, "GET", "/gapi/getUser", { token: s.mintToken({ userId: 42 }) });
    expect([reply.status, reply.text]).toEqual([500, '{"msg":"record not found"}\n']);
  });
});

describe("routing and framework errors", () => {
  it("answers unknown routes, wrong methods and bad bodies with 500 {msg}", async () => {
    const { s } = await start({ users: [{ mobile: MOBILE, password: "pw" }] });
    const cases: Array<[string, string, Parameters<typeof call>[3], string]> = [
      ["GET", "/nope", {}, '{"msg":"code=404, message=Not Found"}\n'],
      ["GET", "/gapi/comments", {}, '{"msg":"code=405, message=Method Not Allowed"}\n'],
      ["POST", "/gapi/getUser", {}, '{"msg":"code=405, message=Method Not Allowed"}\n'],
      ["POST", "/gapi/comments", {}, `{"msg":"code=400, message=Request body can't be empty"}\n`],
      ["POST", "/gapi/comments", { raw: "{}" }, '{"msg":"code=415, message=Unsupported Media Type"}\n'],
      [
        "GET",
        "/gapi/unknown",
        { token: s.mintToken({ userId: 1 }) },
        '{"msg":"code=404, message=Not Found"}\n',
      ],
    ];
    for (const [method, path, options, text] of cases) {
      const reply = await call(s, method, path, options);
      expect([method, path, reply.status, reply.text]).toEqual([method, path, 500, text]);
    }
    const array = await call(s, "POST", "/gapi/comments", {
      raw: "[1]",
      headers: { "content-type": "application/json" },
    });
    expect(array.status).toBe(500);
    // Go's offsets are approximated; the rest of the text is exact.
    expect((array.json() as { msg: string }).msg).toMatch(
      /^code=400, message=Unmarshal type error: expected=map\[string\]interface \{\}, got=array, field=, offset=\d+$/,
    );
    const syntax = await call(s, "POST", "/gapi/comments", {
      raw: "{oops",
      headers: { "content-type": "application/json" },
    });
    expect(syntax.status).toBe(500);
    expect((syntax.json() as { msg: string }).msg).toMatch(
      /^code=400, message=Syntax error: offset=\d+, error=/,
    );
  });

  it("sends every other /gapi path through the JWT check, which OPTIONS bypasses", async () => {
    const { s } = await start();
    const unknown = await call(s, "POST", "/gapi/whatever");
    expect([unknown.status, unknown.text]).toEqual([200, '{"code":401,"msg":"授权失败"}\n']);
    const options = await call(s, "OPTIONS", "/gapi/whatever");
    expect([options.status, options.text, options.headers.get("content-type")]).toEqual([
      200,
      "",
      "text/html; charset=UTF-8",
    ]);
  });
});

describe("comments", () => {
  it("posts with a JWT and lists with names, RFC 3339 times, and shares the table with gRPC-web", async () => {
    const comments = new CommentTable();
    const grpc = await startCommentServer({ comments });
    closers.push(() => grpc.close());
    const { s } = await start({
      comments,
      users: [{ mobile: MOBILE, password: "pw", name: "小明", avatar: "a.png" }],
    });
    const token = s.mintToken({ userId: 1 });
    const posted = await call(s, "POST", "/gapi/comment", {
      token,
      body: { type: "group", target_id: 12, content: "hello <you>", client_id: "web-1" },
      headers: { "x-forwarded-for": "203.0.113.9, 10.0.0.1" },
    });
    expect(posted.text).toBe('{"code":0,"msg":"success","data":null}\n');
    expect(comments.rows.at(-1)).toMatchObject({
      type: "group",
      targetId: 12,
      userId: 1,
      clientId: "web-1",
      ip: "203.0.113.9",
    });

    const grpcClient = createClient(CommentServiceDefinition, createChannel(grpc.url, FetchTransport()));
    await grpcClient.putComment({ type: "group", targetId: 12, userId: 99, content: "from grpc" });
    const viaGrpc = await grpcClient.getComments({ type: "group", targetId: 12, pageSize: 10 });
    expect(viaGrpc.comments.map((c) => c.content)).toEqual(["hello <you>", "from grpc"]);

    const list = await call(s, "POST", "/gapi/comments", { body: { type: "GROUP", target_id: "12" } });
    expect(list.text).toBe(
      '{"code":0,"msg":"success","data":[' +
        '{"id":2,"user_id":1,"content":"hello \\u003cyou\\u003e","name":"小明","avatar":"a.png","created_at":"2019-09-23T08:00:00Z"},' +
        '{"id":3,"user_id":99,"content":"from grpc","name":"","avatar":"","created_at":"' +
        `${new Date(viaGrpc.comments[1]!.createdAt * 1000).toISOString().slice(0, 19)}Z"}]}\n`,
    );
    const none = await call(s, "POST", "/gapi/comments", { body: { type: "group" } });
    expect(none.text).toBe('{"code":0,"msg":"success","data":[]}\n');
  });

  it("drops the connection when /gapi/comment gets a field of the wrong JSON type", async () => {
    const { s } = await start({ users: [{ mobile: MOBILE, password: "pw" }] });
    const token = s.mintToken({ userId: 1 });
    for (const body of [
      { type: "group", target_id: "12", content: "x", client_id: "c" },
      { type: "group", target_id: 12, client_id: "c" },
      { type: 1, target_id: 12, content: "x", client_id: "c" },
    ]) {
      await expect(call(s, "POST", "/gapi/comment", { token, body })).rejects.toThrow();
    }
    expect(s.comments.rows).toEqual([]);
    // The server is still up.
    expect((await call(s, "POST", "/gapi/comments", { body: { type: "group", target_id: 12 } })).status).toBe(
      200,
    );
  });

  it("passes database errors on as 500 {msg}", async () => {
    const { s } = await start({ users: [{ mobile: MOBILE, password: "pw" }] });
    const token = s.mintToken({ userId: 1 });
    const tooLong = await call(s, "POST", "/gapi/comment", {
      token,
      body: { type: "group", target_id: 1, content: "x", client_id: "c".repeat(41) },
    });
    expect([tooLong.status, tooLong.text]).toEqual([
      500,
      `{"msg":"Error 1406: Data too long for column 'client_id' at row 1"}\n`,
    ]);
    s.comments.failure = "Error 2006: MySQL server has gone away";
    const down = await call(s, "POST", "/gapi/comments", { body: { type: "group", target_id: 1 } });
    expect([down.status, down.text]).toEqual([500, '{"msg":"Error 2006: MySQL server has gone away"}\n']);
  });
});

describe("CORS", () => {
  it("is off unless allowOrigins is configured", async () => {
    const { s } = await start();
    const reply = await call(s, "POST", "/gapi/sendMessage", {
      body: { mobile: MOBILE },
      headers: { origin: "http://a.example" },
    });
    expect(reply.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers preflights with 204 for the listed origins only", async () => {
    const { s } = await start({ allowOrigins: ["http://app.example"] });
    const preflight = (origin: string) =>
      fetch(`${s.url}/gapi/comment`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization",
        },
      });
    const allowed = await preflight("http://app.example");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("http://app.example");
    expect(allowed.headers.get("access-control-allow-methods")).toBe("GET,HEAD,PUT,PATCH,POST,DELETE");
    expect(allowed.headers.get("access-control-allow-headers")).toBe(
      "Origin,Content-Type,Accept,x-requested-with,authorization,x-csrf-token",
    );
    expect(allowed.headers.get("access-control-max-age")).toBeNull();
    expect(allowed.headers.get("access-control-allow-credentials")).toBeNull();
    expect(allowed.headers.get("vary")).toBe(
      "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    );
    const denied = await preflight("http://evil.example");
    expect(denied.status).toBe(204);
    expect(denied.headers.get("access-control-allow-origin")).toBe("");
    const actual = await call(s, "POST", "/gapi/sendMessage", {
      body: { mobile: MOBILE },
      headers: { origin: "http://app.example" },
    });
    expect(actual.headers.get("access-control-allow-origin")).toBe("http://app.example");
  });
});
