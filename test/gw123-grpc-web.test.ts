/**
 * startCommentServer(): commentModule.CommentService over real gRPC-web (spec §2 and §6.1).
 * Binary mode through nice-grpc-web with the ts-proto definitions; text mode and the exact bytes
 * with raw fetch and hand-built frames.
 */

import {
  type CommentServer,
  CommentTable,
  createManualClock,
  ENVOY_CORS,
  startCommentServer,
} from "gmq/testing";
import { ClientError, createChannel, createClient, FetchTransport, Metadata, Status } from "nice-grpc-web";
import { afterEach, describe, expect, it } from "vitest";
import {
  CommentServiceDefinition,
  RequestGetComments,
  RequestPutComment,
  ResponseGetComments,
} from "../examples/comments/generated/comment.js";

const enc = new TextEncoder();

/** One gRPC-web frame, built here independently of the server's codec. */
function frame(flag: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header[0] = flag;
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

const OK_TRAILER = frame(0x80, enc.encode("grpc-status:0\r\ngrpc-message:\r\n"));

let server: CommentServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: Parameters<typeof startCommentServer>[0] = {}) {
  server = await startCommentServer(options);
  return server;
}

function client(s: CommentServer) {
  return createClient(CommentServiceDefinition, createChannel(s.url, FetchTransport()));
}

async function post(s: CommentServer, path: string, body: Buffer | string, headers: Record<string, string>) {
  const res = await fetch(`${s.url}${path}`, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : new Uint8Array(body),
  });
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

const binary = { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" };
const text = {
  "content-type": "application/grpc-web-text",
  accept: "application/grpc-web-text",
  "x-grpc-web": "1",
};

async function rpcError(call: Promise<unknown>): Promise<ClientError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ClientError);
  return error as ClientError;
}

describe("CommentService over binary gRPC-web (nice-grpc-web)", () => {
  it("stores user_id verbatim and returns created_at in Unix seconds from the server clock", async () => {
    const clock = createManualClock(Date.UTC(2019, 8, 23, 10, 0, 0));
    const s = await start({ clock });
    const c = client(s);
    const put = await c.putComment({
      type: "group",
      targetId: 7,
      content: "你好 <b>",
      userId: 4242,
      clientId: "c1",
    });
    expect(put).toEqual({ code: 0, msg: "" });
    const got = await c.getComments({ type: "group", targetId: 7, pageSize: 20 });
    expect(got.comments).toEqual([
      {
        id: 2,
        type: "group",
        targetId: 7,
        userId: 4242,
        parentId: 0,
        content: "你好 <b>",
        createdAt: Date.UTC(2019, 8, 23, 10, 0, 0) / 1000,
      },
    ]);
    expect(s.comments.rows.at(-1)).toMatchObject({ clientId: "c1", userId: 4242 });
  });

  it("checks target_id before type, with UNKNOWN and the exact texts", async () => {
    const c = client(await start());
    const both = await rpcError(c.getComments({ type: "nope", targetId: 0 }));
    expect([both.code, both.details]).toEqual([Status.UNKNOWN, "参数错误1"]);
    const negative = await rpcError(c.getComments({ type: "group", targetId: -3 }));
    expect([negative.code, negative.details]).toEqual([Status.UNKNOWN, "参数错误1"]);
    const badType = await rpcError(c.getComments({ type: "Group", targetId: 1 }));
    expect([badType.code, badType.details]).toEqual([Status.UNKNOWN, "参数错误2"]);
    expect(await c.getComments({ type: "resource", targetId: 1, pageSize: 5 })).toEqual({
      comments: [],
      pageSize: 0,
      currentPage: 0,
      total: 0,
    });
  });

  it("pages with zero-based LIMIT/OFFSET, returns nothing for page_size 0 and never fills the paging fields", async () => {
    const s = await start();
    const c = client(s);
    for (let i = 1; i <= 5; i++) await c.putComment({ type: "group", targetId: 9, content: `c${i}` });
    await c.putComment({ type: "resource", targetId: 9, content: "other" });
    const contents = async (pageSize: number, currentPage: number) => {
      const r = await c.getComments({ type: "group", targetId: 9, pageSize, currentPage, total: 99 });
      expect([r.pageSize, r.currentPage, r.total]).toEqual([0, 0, 0]);
      return r.comments.map((x) => x.content);
    };
    expect(await contents(2, 0)).toEqual(["c1", "c2"]);
    expect(await contents(2, 1)).toEqual(["c3", "c4"]);
    expect(await contents(2, 2)).toEqual(["c5"]);
    expect(await contents(2, 3)).toEqual([]);
    expect(await contents(0, 0)).toEqual([]);
    // The placeholder row of the start is there, and no filter reaches it.
    expect(s.comments.rows[0]).toMatchObject({ id: 1, type: "", targetId: 0, content: "" });
  });

  it("returns every matching row with the 2019-09 paging switch", async () => {
    const c = client(await start({ paging: "all" }));
    for (let i = 1; i <= 3; i++) await c.putComment({ type: "group", targetId: 2, content: `c${i}` });
    const r = await c.getComments({ type: "group", targetId: 2, pageSize: 1, currentPage: 5 });
    expect(r.comments.map((x) => x.content)).toEqual(["c1", "c2", "c3"]);
  });

  it("shares one table between servers and reports database failures as UNKNOWN with the driver text", async () => {
    const comments = new CommentTable();
    const s = await start({ comments });
    const c = client(s);
    comments.insert({
      type: "group",
      targetId: 3,
      userId: 1,
      parentId: 0,
      content: "from http",
      clientId: "",
      ip: "",
      createdAt: 1,
    });
    expect(
      (await c.getComments({ type: "group", targetId: 3, pageSize: 9 })).comments.map((x) => x.content),
    ).toEqual(["from http"]);
    const tooLong = await rpcError(c.putComment({ type: "12345678901", targetId: 3 }));
    expect([tooLong.code, tooLong.details]).toEqual([
      Status.UNKNOWN,
      "Error 1406: Data too long for column 'type' at row 1",
    ]);
    comments.failure = "Error 2006: MySQL server has gone away";
    const down = await rpcError(c.getComments({ type: "group", targetId: 3 }));
    expect([down.code, down.details]).toEqual([Status.UNKNOWN, "Error 2006: MySQL server has gone away"]);
  });

  it("answers unknown methods and services with UNIMPLEMENTED, as grpc-go does", async () => {
    const s = await start();
    const unknownMethod = createClient(
      {
        ...CommentServiceDefinition,
        methods: { getcomments: { ...CommentServiceDefinition.methods.getComments, name: "getcomments" } },
      },
      createChannel(s.url, FetchTransport()),
    );
    const capitalised = await rpcError(unknownMethod.getcomments({ type: "group", targetId: 1 }));
    expect([capitalised.code, capitalised.details]).toEqual([
      Status.UNIMPLEMENTED,
      "unknown method getcomments for service commentModule.CommentService",
    ]);
    const { res, body } = await post(
      s,
      "/commentModule.Other/getComments",
      frame(0, new Uint8Array()),
      binary,
    );
    expect([
      res.status,
      res.headers.get("grpc-status"),
      res.headers.get("grpc-message"),
      body.length,
    ]).toEqual([200, "12", "unknown service commentModule.Other", 0]);
  });
});

describe("the wire: framing, trailers and trailers-only errors", () => {
  it("binary: a message frame, then Envoy's trailer frame", async () => {
    const s = await start();
    const request = RequestPutComment.encode({
      ...RequestPutComment.fromPartial({ type: "group", targetId: 1 }),
    }).finish();
    const { res, body } = await post(
      s,
      "/commentModule.CommentService/putComment",
      frame(0, request),
      binary,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/grpc-web+proto");
    expect(res.headers.get("grpc-status")).toBeNull();
    // The empty ResponsePutComment (code 0 omitted), then the trailers.
    expect(body.toString("hex")).toBe(
      Buffer.concat([frame(0, new Uint8Array()), OK_TRAILER]).toString("hex"),
    );
  });

  it("text: base64 both ways, response content-type application/grpc-web-text+proto", async () => {
    const clock = createManualClock(Date.UTC(2019, 8, 24));
    const s = await start({ clock });
    await client(s).putComment({ type: "resource", targetId: 5, userId: 3, content: "x" });
    const request = RequestGetComments.encode(
      RequestGetComments.fromPartial({ type: "resource", targetId: 5, pageSize: 10 }),
    ).finish();
    const { res, body } = await post(
      s,
      "/commentModule.CommentService/getComments",
      frame(0, request).toString("base64"),
      text,
    );
    expect(res.headers.get("content-type")).toBe("application/grpc-web-text+proto");
    const expected = ResponseGetComments.encode({
      comments: [
        {
          id: 2,
          type: "resource",
          targetId: 5,
          userId: 3,
          parentId: 0,
          content: "x",
          createdAt: Date.UTC(2019, 8, 24) / 1000,
        },
      ],
      pageSize: 0,
      currentPage: 0,
      total: 0,
    }).finish();
    // Envoy encodes each frame on its own: the message, then the trailers, each padded.
    expect(body.toString("latin1")).toBe(
      frame(0, expected).toString("base64") + OK_TRAILER.toString("base64"),
    );
  });

  for (const [mode, headers, contentType] of [
    ["binary", binary, "application/grpc-web+proto"],
    ["text", text, "application/grpc-web-text+proto"],
  ] as const) {
    it(`${mode}: an error before any message is trailers-only, percent-encoded UTF-8 in the headers`, async () => {
      const s = await start();
      const request = frame(
        0,
        RequestGetComments.encode(RequestGetComments.fromPartial({ type: "x", targetId: 0 })).finish(),
      );
      const { res, body } = await post(
        s,
        "/commentModule.CommentService/getComments",
        mode === "text" ? request.toString("base64") : request,
        headers,
      );
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe(contentType);
      expect(res.headers.get("grpc-status")).toBe("2");
      expect(res.headers.get("grpc-message")).toBe("%E5%8F%82%E6%95%B0%E9%94%99%E8%AF%AF1");
      expect(body.length).toBe(0);
    });
  }

  it("text: a body that is not base64 gets Envoy's INTERNAL, trailers-only", async () => {
    const s = await start();
    const { res, body } = await post(s, "/commentModule.CommentService/getComments", "AAAA*AAA", text);
    expect([res.headers.get("grpc-status"), res.headers.get("grpc-message"), body.length]).toEqual([
      "13",
      "Bad gRPC-web request, invalid base64 data.",
      0,
    ]);
  });
});

describe("Envoy's CORS", () => {
  const preflight = (s: CommentServer, requestHeaders: string) =>
    fetch(`${s.url}/commentModule.CommentService/getComments`, {
      method: "OPTIONS",
      headers: {
        origin: "http://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": requestHeaders,
      },
    });

  it("answers a preflight from any origin with exactly the envoy.yaml lists", async () => {
    const s = await start();
    const res = await preflight(s, "content-type,x-grpc-web,x-user-agent");
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("http://app.example");
    expect(res.headers.get("access-control-allow-methods")).toBe("GET, PUT, DELETE, POST, OPTIONS");
    expect(res.headers.get("access-control-allow-headers")).toBe(
      "keep-alive,user-agent,cache-control,content-type,content-transfer-encoding,custom-header-1," +
        "x-accept-content-transfer-encoding,x-accept-response-streaming,x-user-agent,x-grpc-web,grpc-timeout",
    );
    expect(res.headers.get("access-control-max-age")).toBe("1728000");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    expect(s.calls).toEqual([]);
  });

  it("does not allow other request headers, so a browser's preflight for them fails", async () => {
    const s = await start();
    const res = await preflight(s, "content-type,authorization,x-custom");
    const allowed = (res.headers.get("access-control-allow-headers") ?? "").split(",");
    expect(allowed).toContain("content-type");
    expect(allowed).not.toContain("authorization");
    expect(allowed).not.toContain("x-custom");
    expect(allowed).not.toContain("api_token");
  });

  it("the root-level variant has the dec-cache-control typo and client_id, api_token", async () => {
    const s = await start({ corsAllowHeaders: "root" });
    const allowed = (
      (await preflight(s, "api_token")).headers.get("access-control-allow-headers") ?? ""
    ).split(",");
    expect(allowed).toContain("dec-cache-control");
    expect(allowed).not.toContain("cache-control");
    expect(allowed).toEqual(expect.arrayContaining(["client_id", "api_token"]));
    expect(ENVOY_CORS.rootAllowHeaders.split(",")).toEqual(allowed);
  });

  it("exposes grpc-status and grpc-message on actual requests", async () => {
    const s = await start();
    const request = frame(
      0,
      RequestGetComments.encode(RequestGetComments.fromPartial({ type: "x", targetId: 1 })).finish(),
    );
    const { res } = await post(s, "/commentModule.CommentService/getComments", request, {
      ...binary,
      origin: "http://elsewhere.example",
    });
    expect(res.headers.get("access-control-allow-origin")).toBe("http://elsewhere.example");
    expect(res.headers.get("access-control-expose-headers")).toBe("custom-header-1,grpc-status,grpc-message");
  });
});

describe("what the server saw", () => {
  it("records each call's mode and metadata", async () => {
    const s = await start();
    await client(s).getComments(
      { type: "group", targetId: 1 },
      { metadata: Metadata({ "custom-header-1": "hello", "grpc-timeout": "5S" }) },
    );
    await post(
      s,
      "/commentModule.CommentService/getComments",
      frame(0, new Uint8Array()).toString("base64"),
      text,
    );
    expect(s.calls.map((c) => [c.path, c.mode])).toEqual([
      ["/commentModule.CommentService/getComments", "binary"],
      ["/commentModule.CommentService/getComments", "text"],
    ]);
    expect(s.calls[0]!.metadata["custom-header-1"]).toBe("hello");
    expect(s.calls[0]!.metadata["grpc-timeout"]).toBe("5S");
    expect(s.lastMetadata?.["content-type"]).toBe("application/grpc-web-text");
  });
});
