/**
 * startMqantHttpGateway(): mqant master's HTTP gateway (appendix of the mqant spec) routing to
 * in-process module handlers, with raw fetch.
 */

import {
  type ApiRequest,
  apiError,
  apiHandler,
  apiResponse,
  type MqantHttpGateway,
  type MqantHttpGatewayOptions,
  mapHandler,
  reply,
  startMqantHttpGateway,
} from "gmq/testing";
import { afterEach, describe, expect, it } from "vitest";

let gateway: MqantHttpGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

async function start(options: MqantHttpGatewayOptions = {}) {
  gateway = await startMqantHttpGateway(options);
  return gateway;
}

async function get(g: MqantHttpGateway, path: string, init: RequestInit = {}) {
  const res = await fetch(`${g.url}${path}`, init);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const gatewayError = (detail: string) =>
  `{"id":"httpgateway","code":500,"detail":${JSON.stringify(detail)},"status":"Internal Server Error"}`;
const rpcError = (detail: string) => `{"id":"","code":0,"detail":${JSON.stringify(detail)},"status":""}`;

describe("the demo module", () => {
  it("routes /user/login to the user module's /user/login handler (JSON, query or form)", async () => {
    const g = await start();
    const json = await get(g, "/user/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ userName: "bob" }),
    });
    expect([json.status, json.headers.get("content-type"), json.text]).toEqual([
      200,
      "application/json",
      '{"token":"token-bob","userName":"bob"}',
    ]);
    expect((await get(g, "/user/login?userName=ann")).text).toBe('{"token":"token-ann","userName":"ann"}');
    const form = await get(g, "/user/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "userName=c%C3%A9line",
    });
    expect(form.text).toBe('{"token":"token-céline","userName":"céline"}');
  });

  it("answers a handler's HTTP error with its status and the errors JSON", async () => {
    const g = await start();
    const missing = await get(g, "/user/login", { method: "POST" });
    expect([missing.status, missing.headers.get("content-type"), missing.text]).toEqual([
      400,
      "application/json",
      '{"id":"user","code":400,"detail":"userName required","status":"Bad Request"}',
    ]);
  });

  it("passes the whole request as go.api.Request", async () => {
    const g = await start();
    const echoed = JSON.parse(
      (
        await get(g, "/user/echo?a=1&a=2&b=x+y", {
          method: "PUT",
          headers: { "x-custom-header": "v", "content-type": "application/json; charset=utf-8" },
          body: '{"k":1}',
        })
      ).text,
    ) as ApiRequest;
    expect(echoed).toMatchObject({
      method: "PUT",
      path: "/user/echo",
      url: "/user/echo?a=1&a=2&b=x+y",
      body: '{"k":1}',
      get: { a: { key: "a", values: ["1", "2"] }, b: { key: "b", values: ["x y"] } },
      post: {},
    });
    expect(echoed.header["X-Custom-Header"]).toEqual({ key: "X-Custom-Header", values: ["v"] });
    expect(echoed.header["X-Forwarded-For"]).toEqual({ key: "X-Forwarded-For", values: ["127.0.0.1"] });
    expect(echoed.header.Host).toEqual({ key: "Host", values: [`127.0.0.1:${g.port}`] });

    const noType = JSON.parse(
      (await get(g, "/user/echo", { headers: { "x-forwarded-for": "10.1.1.1" } })).text,
    ) as ApiRequest;
    expect(noType.header["Content-Type"]!.values).toEqual(["text/plain; charset=UTF-8"]);
    // The header loop overwrites the appended peer address with the client's own value.
    expect(noType.header["X-Forwarded-For"]!.values).toEqual(["10.1.1.1"]);
  });
});

describe("errors", () => {
  it("routing failures are the gateway's own 500", async () => {
    const g = await start();
    for (const [path, detail] of [
      ["/", "server is nil"],
      ["/nobody/login", "none available"],
      ["/user@0000000000000000/login", "nofound user@0000000000000000"],
      ["/user/login?x=%zz", 'Error parsing form: invalid URL escape "%zz"'],
    ] as const) {
      const r = await get(g, path);
      expect([path, r.status, r.headers.get("content-type"), r.text]).toEqual([
        path,
        500,
        "application/json",
        gatewayError(detail),
      ]);
    }
    const byNode = await get(g, `/${g.nodeIds.user}/login`);
    expect(byNode.text).toBe(rpcError(`Remote function(/${g.nodeIds.user}/login) not found`));
  });

  it("RPC errors that are not the errors JSON become 500 with the text as detail", async () => {
    const g = await start({
      timeoutMs: 100,
      modules: [
        {
          type: "app",
          handlers: {
            "/app/text": apiHandler(() => {
              throw "boom <1>";
            }),
            "/app/reply": apiHandler(() => reply(null, apiError(409, "taken", "app"))),
            "/app/string": apiHandler(() => "hi"),
            "/app/nil": apiHandler(() => undefined),
            "/app/slow": apiHandler(
              () => new Promise((resolve) => setTimeout(() => resolve(apiResponse()), 1000)),
            ),
            "/app/panic": apiHandler(() => {
              throw new Error("nil map");
            }),
            "/app/map": mapHandler(() => "never"),
          },
        },
      ],
    });
    expect((await get(g, "/app/text")).text).toBe(
      '{"id":"","code":0,"detail":"boom \\u003c1\\u003e","status":""}',
    );
    const conflict = await get(g, "/app/reply");
    expect([conflict.status, conflict.text]).toEqual([
      409,
      '{"id":"app","code":409,"detail":"taken","status":"Conflict"}',
    ]);
    expect((await get(g, "/app/string")).text).toBe(
      rpcError("mqrpc: unexpected type for hi, got type string"),
    );
    expect((await get(g, "/app/nil")).text).toBe(rpcError("mqrpc: nil returned"));
    expect((await get(g, "/app/missing")).text).toBe(rpcError("Remote function(/app/missing) not found"));
    const slow = await get(g, "/app/slow");
    expect([slow.status, slow.text]).toEqual([500, rpcError("deadline exceeded")]);
    const panic = JSON.parse((await get(g, "/app/panic")).text) as { code: number; detail: string };
    expect(panic.code).toBe(0);
    expect(panic.detail).toMatch(/^app rpc func\(\/app\/panic\) error nil map\n ----Stack----\n/);
    const map = JSON.parse((await get(g, "/app/map")).text) as { detail: string };
    expect(map.detail).toMatch(/^The number of params /);
    expect(g.nodeIds).not.toHaveProperty("user");
  });
});

describe("responses", () => {
  it("writes status, headers and body as the handler set them", async () => {
    const g = await start({
      modules: {
        shop: {
          "/shop/item": apiHandler((request) =>
            apiResponse({
              statusCode: 201,
              header: { "content-type": "text/plain", "x-multi": ["a", "b"] },
              body: `made ${request.get.id?.values[0]}`,
            }),
          ),
          "/shop/empty": apiHandler(() => apiResponse()),
          "/shop/bad-status": apiHandler(() => apiResponse({ statusCode: 42 })),
        },
      },
    });
    const made = await get(g, "/shop/item?id=7");
    expect([made.status, made.headers.get("content-type"), made.headers.get("x-multi"), made.text]).toEqual([
      201,
      "text/plain",
      "a, b",
      "made 7",
    ]);
    const empty = await get(g, "/shop/empty");
    expect([empty.status, empty.headers.get("content-type"), empty.text]).toEqual([
      200,
      "application/json",
      "",
    ]);
    // Go's WriteHeader panics on an invalid code: the connection is dropped.
    await expect(get(g, "/shop/bad-status")).rejects.toThrow();
  });
});
