/**
 * gmq/http against the gw123 `/gapi` emulator (every envelope case of spec §3, JWT refresh, the
 * outbox) and mqant's HTTP gateway emulator (success, handler error and 500 shapes).
 */
import { type Client, type ClientOptions, createClient, GmqError } from "gmq";
import { waitFor } from "gmq/contract";
import { HTTP_REASONS, type HttpOptions, http, type TokenRequest } from "gmq/http";
import {
  apiError,
  apiHandler,
  apiResponse,
  createManualClock,
  type Gw123Http,
  type Gw123HttpOptions,
  type MqantHttpGateway,
  startGw123Http,
  startMqantHttpGateway,
} from "gmq/testing";
import { afterEach, describe, expect, it } from "vitest";

const MOBILE = "13800000000";
const NOW = Date.UTC(2019, 8, 23, 8, 0, 0);
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function gw123(options: Gw123HttpOptions = {}): Promise<Gw123Http> {
  const s = await startGw123Http({
    clock: createManualClock(NOW),
    users: [{ mobile: MOBILE, password: "pw" }],
    ...options,
  });
  closers.push(() => s.close());
  return s;
}

function client(options: HttpOptions, extra: Partial<ClientOptions> = {}): Client {
  const c = createClient({
    transport: http(options),
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    ...extra,
  });
  c.on("error", () => {});
  closers.push(() => c.close());
  return c;
}

async function failure(work: Promise<unknown>): Promise<GmqError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!GmqError.is(error)) throw new Error(`expected a GmqError, got ${String(error)}`);
  return error;
}

describe("gw123 dialect: the envelope (spec §3)", () => {
  it("success is HTTP 200 with code 0: the result is `data`", async () => {
    const s = await gw123();
    s.comments.insert({
      type: "resource",
      targetId: 7,
      userId: 1,
      parentId: 0,
      content: "hello",
      clientId: "",
      ip: "",
      createdAt: NOW / 1000,
    });
    const c = client({ url: s.url });
    expect(await c.call("gapi", "comments", { type: "resource", target_id: 7 })).toEqual([
      { id: 1, user_id: 1, content: "hello", name: MOBILE, avatar: "", created_at: "2019-09-23T08:00:00Z" },
    ]);
    // A path starting with "/" is taken as it is; the login answers `data.api_token`.
    const login = await c.call<{ api_token: string }>("gapi", "/gapi/login", {
      mobile: MOBILE,
      password: "pw",
    });
    expect(login.api_token.split(".")).toHaveLength(3);
    expect(c.state).toBe("connected");
  });

  it("a handled failure is `remote` with the code in reason and details; 401 is `unauthenticated`", async () => {
    const s = await gw123();
    const c = client({ url: s.url });
    const wrong = await failure(c.call("gapi", "login", { mobile: MOBILE, password: "nope" }));
    expect([wrong.code, wrong.reason, wrong.message]).toEqual(["remote", "CODE_402", "账号或者密码错误"]);
    expect(wrong.details).toEqual({ code: 402, msg: "账号或者密码错误", data: null });
    const anonymous = await failure(c.call("gapi", "GET getUser"));
    expect([anonymous.code, anonymous.reason, anonymous.message]).toEqual([
      "unauthenticated",
      "CODE_401",
      "授权失败",
    ]);
    expect(anonymous.details).toEqual({ code: 401, msg: "授权失败" }); // no `data` key in that body
  });

  it("a 500 {msg} is a server error; echo's own errors by the status they carry", async () => {
    const s = await gw123();
    const token = s.mintToken({ userId: 99 }); // a valid token for a user that does not exist
    const c = client({ url: s.url, token: () => token });
    const missing = await failure(c.call("gapi", "GET getUser"));
    expect([missing.code, missing.reason, missing.message]).toEqual([
      "remote",
      "HTTP_500",
      "record not found",
    ]);
    expect(missing.details).toEqual({ status: 500, msg: "record not found" });
    const route = await failure(c.call("gapi", "nothingHere", {}));
    expect([route.code, route.reason, route.message]).toEqual([
      "no_responder",
      "HTTP_404",
      "code=404, message=Not Found",
    ]);
    const verb = await failure(c.call("gapi", "GET comments", { type: "group" }));
    expect([verb.code, verb.reason]).toEqual(["remote", "HTTP_405"]);
  });

  it("a dropped connection (a handler panic) is `disconnected`", async () => {
    const s = await gw123();
    const token = s.mintToken({ userId: 1 });
    const c = client({ url: s.url, token: () => token });
    // target_id must be a JSON number: the type assertion panics and net/http drops the socket.
    const dropped = await failure(
      c.call("gapi", "comment", { type: "resource", target_id: "7", content: "x", client_id: "c" }),
    );
    expect([dropped.code, dropped.reason]).toEqual(["disconnected", HTTP_REASONS.UNREACHABLE]);
  });

  it("GET sends the args as the query string, and call headers go along", async () => {
    const s = await gw123({ allowOrigins: ["*"] });
    const token = s.mintToken({ userId: 1 });
    const seen: string[] = [];
    const c = client({
      url: s.url,
      token: () => token,
      fetch: (input, init) => {
        seen.push(`${init?.method} ${String(input)} ${new Headers(init?.headers).get("x-requested-with")}`);
        return fetch(input, init);
      },
    });
    const user = await c.call<{ id: number; mobile: string }>(
      "gapi",
      "GET getUser",
      { a: 1, list: ["x", "y"], skip: null },
      { headers: { "X-Requested-With": "gmq" } },
    );
    expect([user.id, user.mobile]).toEqual([1, MOBILE]);
    expect(seen).toEqual([`GET ${s.url}/gapi/getUser?a=1&list=x&list=y gmq`]);
  });

  it("an expired JWT is refreshed once through the token provider, and the request sent again", async () => {
    const s = await gw123();
    const expired = s.mintToken({ userId: 1, issuedAt: NOW / 1000 - 10, expiresAt: NOW / 1000 - 5 });
    const fresh = s.mintToken({ userId: 1 });
    const asked: TokenRequest[] = [];
    const c = client({
      url: s.url,
      token: (request) => {
        asked.push(request);
        return request.refresh ? fresh : expired;
      },
    });
    const user = await c.call<{ id: number }>("gapi", "GET getUser");
    expect(user.id).toBe(1);
    expect(asked).toEqual([{ refresh: false }, { refresh: true, rejected: expired }]);
    // A provider with nothing new: the refusal stands.
    const stale = client({ url: s.url, token: () => expired });
    const refused = await failure(stale.call("gapi", "GET getUser"));
    expect([refused.code, refused.reason]).toMatchObject(["unauthenticated", "CODE_401"]);
    expect(refused.message).toMatch(/^授权失败1:/);
  });

  it("after `unauthenticated` stops the client, shouldRetry asks the provider and goes on with a new token", async () => {
    const s = await gw123();
    const expired = s.mintToken({ userId: 1, issuedAt: NOW / 1000 - 10, expiresAt: NOW / 1000 - 5 });
    let current = expired;
    let refreshes = 0;
    const c = client(
      {
        url: s.url,
        // The first refresh (in the request) has nothing new yet; the next (shouldRetry) has.
        token: ({ refresh }) => {
          if (refresh && ++refreshes >= 2) current = s.mintToken({ userId: 1 });
          return current;
        },
      },
      { autoConnect: false, onConnect: (session) => session.call("gapi", "GET getUser").then(() => {}) },
    );
    await c.connect({ timeoutMs: 5_000 });
    expect(refreshes).toBe(2);
    expect(current).not.toBe(expired);
    expect(await c.call("gapi", "GET getUser")).toMatchObject({ id: 1 });
    expect(c.state).toBe("connected");
  });

  it("a provider with no new token stops the client with `unauthenticated` until the app acts", async () => {
    const s = await gw123();
    let token = s.mintToken({ userId: 1, issuedAt: NOW / 1000 - 10, expiresAt: NOW / 1000 - 5 });
    const c = client(
      { url: s.url, token: ({ refresh }) => (refresh ? undefined : token) },
      { autoConnect: false, onConnect: (session) => session.call("gapi", "GET getUser").then(() => {}) },
    );
    const stopped = await failure(c.connect({ timeoutMs: 5_000 }));
    expect(stopped.code).toBe("unauthenticated");
    token = s.mintToken({ userId: 1 }); // the app logged in again
    await c.connect({ timeoutMs: 5_000 });
    expect(await c.call("gapi", "GET getUser")).toMatchObject({ id: 1 });
    expect(c.state).toBe("connected");
  });
});

describe("gw123 dialect: publishes through the outbox", () => {
  it("posts comments queued while the server was down, in order, when it is back", async () => {
    const s = await gw123();
    const { port, url, comments } = s;
    const token = s.mintToken({ userId: 1 });
    const c = client({ url, token: () => token });
    const post = (content: string) =>
      c.publish("gapi/comment", { type: "resource", target_id: 3, content, client_id: "web" });
    expect((await post("online")).status).toBe("sent");
    await s.close();
    const queued = await Promise.all(["a", "b"].map(post));
    expect(queued.map((r) => r.status)).toEqual(["queued", "queued"]);
    const again = await startGw123Http({ port, comments, clock: createManualClock(NOW) });
    closers.push(() => again.close());
    await waitFor(() => c.outboxStats().count === 0, 10_000, "the outbox to flush");
    expect(comments.rows.map((row) => [row.content, row.userId])).toEqual([
      ["online", 1],
      ["a", 1],
      ["b", 1],
    ]);
  });

  it("a handled error envelope gives the publish up with its code (not retried)", async () => {
    const s = await gw123();
    const c = client({ url: s.url });
    const dropped: GmqError[] = [];
    c.on("dropped", (event) => event.error && dropped.push(event.error));
    expect((await c.publish("gapi/sendMessage", { mobile: "13900000000" })).status).toBe("sent");
    // One SMS a minute: the second is refused with code 402.
    const limited = await failure(c.publish("gapi/sendMessage", { mobile: "13900000000" }));
    expect([limited.code, limited.reason, limited.message]).toEqual([
      "remote",
      "CODE_402",
      "请稍等1分钟后尝试",
    ]);
    const anonymous = await failure(c.publish("gapi/comment", { type: "resource" }));
    expect(anonymous.code).toBe("unauthenticated");
    expect(dropped.map((e) => e.reason)).toEqual(["CODE_402", "CODE_401"]);
    expect(c.outboxStats().count).toBe(0);
    expect(s.sms).toHaveLength(1);
  });
});

describe("mqant dialect: the HTTP gateway", () => {
  async function gateway(): Promise<MqantHttpGateway> {
    const g = await startMqantHttpGateway({
      timeoutMs: 100,
      modules: [
        {
          type: "user",
          handlers: {
            "/user/login": apiHandler((request) => {
              const name = request.get.userName?.values[0] ?? request.post.userName?.values[0];
              const body = request.body ? (JSON.parse(request.body) as { userName?: string }) : {};
              const userName = name ?? body.userName;
              if (!userName) throw apiError(400, "userName required", "user");
              return apiResponse({ body: JSON.stringify({ token: `token-${userName}`, userName }) });
            }),
            "/user/hello": apiHandler(() =>
              apiResponse({ header: { "content-type": "text/plain" }, body: "hi there" }),
            ),
            "/user/taken": apiHandler(() => {
              throw apiError(409, "name taken", "user");
            }),
            "/user/boom": apiHandler(() => {
              throw "boom";
            }),
            "/user/slow": apiHandler(() => new Promise(() => {})),
            "/user/bad-status": apiHandler(() => apiResponse({ statusCode: 42 })),
          },
        },
      ],
    });
    closers.push(() => g.close());
    return g;
  }

  it("success: the body is the result, from a JSON body, a query or a form", async () => {
    const g = await gateway();
    const c = client({ url: g.url, dialect: "mqant" });
    expect(await c.call("user", "/user/login", { userName: "bob" })).toEqual({
      token: "token-bob",
      userName: "bob",
    });
    expect(await c.call("user", "GET login", { userName: "ann" })).toEqual({
      token: "token-ann",
      userName: "ann",
    });
    const form = await c.call(
      "user",
      "login",
      { userName: "céline" },
      { headers: { "Content-Type": "application/x-www-form-urlencoded" } },
    );
    expect(form).toEqual({ token: "token-céline", userName: "céline" });
    // Plain text is the result as a string.
    expect(await c.call("user", "GET hello")).toBe("hi there");
  });

  it("a handler error keeps its HTTP status as the code and mqant's error in details", async () => {
    const g = await gateway();
    const c = client({ url: g.url, dialect: "mqant" });
    const missing = await failure(c.call("user", "login", {}));
    expect([missing.code, missing.reason, missing.message]).toEqual([
      "invalid_argument",
      "HTTP_400",
      "userName required",
    ]);
    expect(missing.details).toEqual({
      id: "user",
      code: 400,
      detail: "userName required",
      status: "Bad Request",
    });
    const taken = await failure(c.call("user", "taken"));
    expect([taken.code, taken.reason, taken.message]).toEqual(["remote", "HTTP_409", "name taken"]);
  });

  it("the 500 shapes: routing failures, unknown handlers, timeouts, other errors, and a dropped connection", async () => {
    const g = await gateway();
    const c = client({ url: g.url, dialect: "mqant" });
    const noModule = await failure(c.call("shop", "/shop/items"));
    expect([noModule.code, noModule.reason, noModule.message]).toEqual([
      "no_responder",
      "MODULE_NOT_FOUND",
      "none available",
    ]);
    expect(noModule.details).toEqual({
      id: "httpgateway",
      code: 500,
      detail: "none available",
      status: "Internal Server Error",
    });
    const noNode = await failure(c.call("user@0000000000000000", "x"));
    expect([noNode.code, noNode.reason]).toEqual(["no_responder", "MODULE_NOT_FOUND"]);
    const noHandler = await failure(c.call("user", "logout"));
    expect([noHandler.code, noHandler.reason, noHandler.message]).toEqual([
      "no_responder",
      "HANDLER_NOT_FOUND",
      "Remote function(/user/logout) not found",
    ]);
    const slow = await failure(c.call("user", "slow"));
    expect([slow.code, slow.reason]).toEqual(["timeout", "SERVER_TIMEOUT"]);
    const boom = await failure(c.call("user", "boom"));
    expect([boom.code, boom.reason, boom.message]).toEqual(["remote", "HTTP_500", "boom"]);
    const dropped = await failure(c.call("user", "bad-status"));
    expect([dropped.code, dropped.reason]).toEqual(["disconnected", "UNREACHABLE"]);
  });
});

describe("names", () => {
  it("routes are `[VERB ]path`; anything else fails at once naming the field", async () => {
    const c = client({ url: "http://127.0.0.1:1" }, { autoConnect: false });
    for (const [work, field] of [
      [() => c.call("gapi", "GET  two spaces"), "method"],
      [() => c.call("gapi", "FETCH comments"), "method"],
      [() => c.call("ga/pi", "comments"), "service"],
      [() => c.publish("gapi/comment?x=1", {}), "topic"],
      [() => c.call("gapi", "GET comments", 42), "args"],
    ] as const) {
      const error = await failure(work());
      expect([error.code, error.field]).toEqual(["invalid_argument", field]);
    }
  });
});
