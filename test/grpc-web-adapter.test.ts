/**
 * gmq/grpc-web against the gRPC-web test server (connect-node behind the Envoy stand-in):
 * CommentService round trips in both modes, the status mapping with decoded messages and
 * details, deadlines, aborts, metadata, unreachable servers, the outbox, and the Ticker's server
 * stream as a subscription (cancelled, restarted after a kill, flow-controlled).
 */
import { type Client, createClient, GmqError, type Message, type Transport } from "gmq";
import { waitFor } from "gmq/contract";
import {
  decodeStatusDetails,
  GRPC_STATUS_CODES,
  GRPC_WEB_REASONS,
  type GrpcWebOptions,
  grpcWeb,
  rpc,
} from "gmq/grpc-web";
import { type CommentServer, CommentTable, startCommentServer } from "gmq/testing";
import { Status } from "nice-grpc-web";
import { afterEach, describe, expect, it } from "vitest";
import { CommentServiceDefinition, ResponseGetComments } from "../examples/comments/generated/comment.js";
import { FailDetail, RelayDefinition, TickerDefinition } from "../examples/comments/generated/gmqtest.js";

const SERVICE = "commentModule.CommentService";
const services = [CommentServiceDefinition, TickerDefinition, RelayDefinition];

let server: CommentServer | undefined;
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
  server = undefined;
});

async function start(options: Parameters<typeof startCommentServer>[0] = {}): Promise<CommentServer> {
  server = await startCommentServer({ placeholder: false, ...options });
  return server;
}

function client(s: { url: string }, extra: Partial<GrpcWebOptions> = {}, clientOptions = {}): Client {
  const c = createClient({
    transport: grpcWeb({ url: s.url, services, ...extra }),
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    ...clientOptions,
  });
  c.on("error", () => {});
  clients.push(c);
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(["binary", "text"] as const)("CommentService in %s mode", (mode) => {
  it("puts and gets comments: JSON in and out, typed through rpc(), and on the wire in that mode", async () => {
    const s = await start({ clock: { now: () => 1_700_000_000_000 } });
    const c = client(s, { mode });
    const put = await c.call(SERVICE, "putComment", {
      type: "resource",
      targetId: 7,
      content: "first 你好",
      userId: 3,
      clientId: "c-1",
    });
    expect(put).toEqual({}); // code 0 and msg "" are proto3 defaults, omitted in JSON
    const typed = rpc(c, CommentServiceDefinition);
    expect(await typed.putComment({ type: "resource", targetId: 7, content: "second", parentId: 1 })).toEqual(
      {
        code: 0,
        msg: "",
      },
    );
    // snake_case names are accepted too (proto3 JSON parsers must take both).
    const page = await c.call<{ comments: Array<Record<string, unknown>> }>(SERVICE, "getComments", {
      type: "resource",
      target_id: 7,
      pageSize: 10,
    });
    expect(page).toEqual({
      comments: [
        {
          id: 1,
          type: "resource",
          targetId: 7,
          userId: 3,
          content: "first 你好",
          createdAt: 1_700_000_000,
        },
        { id: 2, type: "resource", targetId: 7, parentId: 1, content: "second", createdAt: 1_700_000_000 },
      ],
    });
    const again = await typed.getComments({ type: "resource", targetId: 7, pageSize: 1, currentPage: 1 });
    expect(again).toEqual(
      ResponseGetComments.fromPartial({
        comments: [
          {
            id: 2,
            type: "resource",
            targetId: 7,
            parentId: 1,
            content: "second",
            createdAt: 1_700_000_000,
          },
        ],
      }),
    );
    expect(s.calls.map((call) => [call.path, call.mode])).toEqual([
      ["/commentModule.CommentService/putComment", mode],
      ["/commentModule.CommentService/putComment", mode],
      ["/commentModule.CommentService/getComments", mode],
      ["/commentModule.CommentService/getComments", mode],
    ]);
  });

  it("validation failures are UNKNOWN → `remote`, with the decoded Chinese message", async () => {
    const s = await start();
    const c = client(s, { mode });
    const first = await failure(c.call(SERVICE, "getComments", { type: "resource", targetId: 0 }));
    expect([first.code, first.reason, first.message]).toEqual(["remote", "UNKNOWN", "参数错误1"]);
    const second = await failure(c.call(SERVICE, "getComments", { type: "book", targetId: 1 }));
    expect([second.code, second.reason, second.message]).toEqual(["remote", "UNKNOWN", "参数错误2"]);
    // A database failure's text comes through as it is.
    s.comments.failure = "Error 2006: MySQL server has gone away 100%";
    const db = await failure(c.call(SERVICE, "getComments", { type: "group", targetId: 1 }));
    expect([db.code, db.message]).toEqual(["remote", "Error 2006: MySQL server has gone away 100%"]);
    // The backend answered each time: the client counts as connected.
    expect(c.state).toBe("connected");
  });
});

describe("errors", () => {
  it("maps every status with its name as reason, and decodes grpc-status-details-bin", async () => {
    const s = await start();
    const c = client(s);
    const echo = (failCode: number, extra = {}) =>
      failure(c.call("gmqtest.Ticker", "echo", { failCode, failMessage: `status ${failCode}`, ...extra }));
    // UNAVAILABLE last: it is `disconnected`, after which calls fail at once until the backoff passed.
    const names = Object.keys(GRPC_STATUS_CODES).sort(
      (a, b) => +(a === "UNAVAILABLE") - +(b === "UNAVAILABLE"),
    );
    for (const [name, code] of names.map((n) => [
      n,
      GRPC_STATUS_CODES[n as keyof typeof GRPC_STATUS_CODES],
    ])) {
      const status = Status[name as keyof typeof Status];
      const error = await echo(status);
      expect([name, error.code, error.reason, error.message]).toEqual([name, code, name, `status ${status}`]);
      expect(GRPC_WEB_REASONS[name as keyof typeof GRPC_STATUS_CODES]).toBe(name);
    }
    await waitFor(() => c.state === "disconnected", 5_000, "the disconnected state");
    await waitFor(() => c.state === "connecting", 5_000, "the backoff to pass");
    const detailed = await echo(Status.INVALID_ARGUMENT, { failDetail: "targetId must be > 0" });
    const details = detailed.details as {
      code: number;
      message: string;
      details: Array<Record<string, any>>;
    };
    expect([details.code, details.message]).toEqual([Status.INVALID_ARGUMENT, "status 3"]);
    expect(details.details.map((d) => d.typeUrl)).toEqual(["type.googleapis.com/gmqtest.FailDetail"]);
    expect(FailDetail.decode(details.details[0]!.value)).toEqual({ text: "targetId must be > 0" });
  });

  it("decodeStatusDetails reads a google.rpc.Status and refuses truncated bytes", () => {
    const text = (value: string) => [...new TextEncoder().encode(value)];
    const any = [0x0a, 3, ...text("t/x"), 0x12, 2, 1, 2];
    const status = new Uint8Array([0x08, 3, 0x12, 3, ...text("bad"), 0x1a, any.length, ...any]);
    expect(decodeStatusDetails(status)).toEqual({
      code: 3,
      message: "bad",
      details: [{ typeUrl: "t/x", value: new Uint8Array([1, 2]) }],
    });
    expect(() => decodeStatusDetails(status.subarray(0, status.length - 1))).toThrow();
  });

  it("a method the server does not have is UNIMPLEMENTED → `no_responder`", async () => {
    const s = await start();
    const c = createClient({
      transport: grpcWeb({
        url: s.url,
        services: [{ ...CommentServiceDefinition, fullName: "commentModule.Missing" }],
      }),
    });
    clients.push(c);
    const error = await failure(c.call("commentModule.Missing", "getComments", { targetId: 1 }));
    expect([error.code, error.reason, error.message]).toEqual([
      "no_responder",
      "UNIMPLEMENTED",
      "unknown service commentModule.Missing",
    ]);
  });

  it("names that are not registered fail at once with invalid_argument naming the field, sending nothing", async () => {
    const s = await start();
    const c = client(s);
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => c.call("commentModule.Other", "getComments", {}), "service"],
      [() => c.call(SERVICE, "deleteComment", {}), "method"],
      [() => c.call(SERVICE, "echo", {}), "method"], // a method, but of another service
      [() => c.call("gmqtest.Ticker", "ticks", {}), "method"], // a server stream
      [() => c.publish("commentModule.CommentService/nope", {}), "topic"],
      [() => c.publish("gmqtest.Ticker/ticks", {}), "topic"],
      [async () => c.subscribe("commentModule.CommentService/getComments", () => {}), "pattern"],
    ];
    for (const [work, field] of cases) {
      const error = await failure(work());
      expect([error.code, error.field]).toEqual(["invalid_argument", field]);
    }
    expect(s.calls).toEqual([]);
  });

  it("an unreachable server is `disconnected` (UNREACHABLE), and later calls fail at once", async () => {
    const s = await start();
    const { url } = s;
    await s.close();
    server = undefined;
    const c = client({ url });
    const first = await failure(c.call(SERVICE, "getComments", { type: "group", targetId: 1 }));
    expect([first.code, first.reason]).toEqual(["disconnected", "UNREACHABLE"]);
    expect(first.message).toContain("cannot reach");
    await waitFor(() => c.state === "disconnected", 5_000, "the disconnected state");
    const started = Date.now();
    const next = await failure(c.call(SERVICE, "getComments", { type: "group", targetId: 1 }));
    expect(next.code).toBe("disconnected");
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe("deadlines, aborts and metadata", () => {
  it("a deadline travels as grpc-timeout and expires as `timeout`", async () => {
    const s = await start();
    const c = client(s);
    const error = await failure(c.call("gmqtest.Relay", "hang", {}, { timeoutMs: 150 }));
    expect(error.code).toBe("timeout");
    expect(s.lastMetadata?.["grpc-timeout"]).toMatch(/^1[45]\dm$/);
  });

  it("aborting a call mid-way rejects with `aborted` and the reason as cause", async () => {
    const s = await start();
    const c = client(s);
    const controller = new AbortController();
    const pending = c.call("gmqtest.Relay", "hang", {}, { signal: controller.signal });
    await waitFor(() => s.calls.length === 1, 5_000, "the call to arrive");
    controller.abort("user left");
    const error = await failure(pending);
    expect([error.code, error.cause]).toEqual(["aborted", "user left"]);
    // The fetch itself was cancelled: the server stops serving the call.
    await waitFor(() => s.relay.hanging === 0, 5_000, "the server to see the call cancelled");
  });

  it("closing the client rejects a call under way with `closed` and cancels its request", async () => {
    const s = await start();
    const c = client(s);
    const pending = c.call("gmqtest.Relay", "hang", {});
    await waitFor(() => s.relay.hanging === 1, 5_000, "the call to be served");
    await c.close();
    expect((await failure(pending)).code).toBe("closed");
    await waitFor(() => s.relay.hanging === 0, 5_000, "the server to see the call cancelled");
  });

  it("asks the metadata provider for every request, and sends call headers as metadata", async () => {
    const s = await start();
    let asked = 0;
    const c = client(s, { metadata: async () => ({ "custom-header-1": `token-${++asked}` }) });
    const first = await c.call<{ metadata: Record<string, string> }>("gmqtest.Ticker", "echo", { text: "a" });
    expect(first.metadata["custom-header-1"]).toBe("token-1");
    expect(s.lastMetadata?.["custom-header-1"]).toBe("token-1");
    await c.call("gmqtest.Ticker", "echo", { text: "b" }, { headers: { "x-user-agent": "gmq-test" } });
    expect(s.lastMetadata?.["custom-header-1"]).toBe("token-2");
    expect(s.lastMetadata?.["x-user-agent"]).toBe("gmq-test");
    expect(s.lastMetadata?.["x-grpc-web"]).toBe("1");
    await c.publish("commentModule.CommentService/putComment", { type: "group", targetId: 1 });
    expect(s.lastMetadata?.["custom-header-1"]).toBe("token-3");
  });

  it("a metadata provider that throws fails the call as `unauthenticated`, a GmqError keeps its code", async () => {
    const s = await start();
    let fail: unknown = new Error("no token");
    const c = client(s, {
      metadata: () => {
        throw fail;
      },
    });
    expect((await failure(c.call("gmqtest.Ticker", "echo", {}))).code).toBe("unauthenticated");
    fail = new GmqError("busy", "token service busy");
    expect((await failure(c.call("gmqtest.Ticker", "echo", {}))).code).toBe("busy");
    expect(s.calls).toEqual([]);
  });
});

describe("publish through the outbox", () => {
  it("puts comments while the server is down and sends them in order when it is back", async () => {
    const comments = new CommentTable();
    const s = await start({ comments });
    const { port, url } = s;
    const c = client(s);
    const put = (content: string) =>
      c.publish("commentModule.CommentService/putComment", { type: "resource", targetId: 9, content });
    expect((await put("online")).status).toBe("sent");
    await s.close();
    server = undefined;
    const queued = await Promise.all(["a", "b", "c"].map(put));
    expect(queued.map((r) => r.status)).toEqual(["queued", "queued", "queued"]);
    expect(c.outboxStats().count).toBe(3);
    server = await startCommentServer({ comments, port, placeholder: false });
    expect(server.url).toBe(url);
    await waitFor(() => c.outboxStats().count === 0, 10_000, "the outbox to flush");
    expect(comments.rows.map((row) => row.content)).toEqual(["online", "a", "b", "c"]);
  });

  it("a publish the server refuses is given up with its code, not retried", async () => {
    const s = await start();
    const c = client(s);
    const dropped: GmqError[] = [];
    c.on("dropped", (event) => event.error && dropped.push(event.error));
    s.comments.failure = "Error 1146: Table 'comments' doesn't exist";
    const error = await failure(
      c.publish("commentModule.CommentService/putComment", { type: "resource", targetId: 1 }),
    );
    expect([error.code, error.reason]).toEqual(["remote", "UNKNOWN"]);
    expect(c.outboxStats().count).toBe(0);
    expect(s.calls.length).toBe(1);
  });
});

interface Tick {
  seq: number;
  label: string;
}

describe("the Ticker's server stream as a subscription", () => {
  it("delivers ticks, and unsubscribing cancels the stream at the server", async () => {
    const s = await start();
    const c = client(s);
    const got: Tick[] = [];
    const sub = c.subscribe<Tick>("gmqtest.Ticker/ticks", (m) => void got.push(m.data), {
      args: { intervalMs: 10, label: "a" },
    });
    await sub.ready;
    expect(s.openStreams).toBe(1);
    await waitFor(() => got.length >= 3, 5_000, "three ticks");
    expect(got.slice(0, 3)).toEqual([
      { seq: 1, label: "a" },
      { seq: 2, label: "a" },
      { seq: 3, label: "a" },
    ]);
    await sub.unsubscribe();
    await waitFor(() => s.openStreams === 0, 5_000, "the stream to be cancelled");
  });

  it("closing the client cancels its streams", async () => {
    const s = await start();
    const c = client(s, { mode: "text" });
    const sub = c.subscribe("gmqtest.Ticker/ticks", () => {}, { args: { intervalMs: 10 } });
    await sub.ready;
    expect(s.calls.at(-1)?.mode).toBe("text");
    await c.close();
    await waitFor(() => s.openStreams === 0, 5_000, "the stream to be cancelled");
  });

  it("is restarted after the server kills it, and after it ends with an error status", async () => {
    const s = await start();
    const c = client(s);
    const got: number[] = [];
    const errors: Array<string | undefined> = [];
    const sub = c.subscribe<Tick>("gmqtest.Ticker/ticks", (m) => void got.push(m.data.seq), {
      args: { intervalMs: 20 },
    });
    sub.on("state", (change) => change.to === "subscribing" && errors.push(change.error?.reason));
    await sub.ready;
    await waitFor(() => got.length >= 2, 5_000, "two ticks");
    const killedAt = got.length;
    expect(s.killStreams()).toBe(1);
    await waitFor(() => errors.length === 1 && sub.state === "subscribed", 10_000, "the restart");
    expect(errors).toEqual(["UNREACHABLE"]);
    await waitFor(() => got.length >= killedAt + 2, 5_000, "ticks on the new stream");
    expect(got.slice(killedAt, killedAt + 2)).toEqual([1, 2]); // a new stream starts again

    const failing = c.subscribe<Tick>("gmqtest.Ticker/ticks", () => {}, {
      args: { count: 5, failAfter: 1, failCode: Status.INTERNAL, failMessage: "oops" },
    });
    const reasons: Array<string | undefined> = [];
    failing.on("state", (change) => change.to === "subscribing" && reasons.push(change.error?.reason));
    await waitFor(() => reasons.length >= 2, 10_000, "two restarts");
    expect(reasons.slice(0, 2)).toEqual(["INTERNAL", "INTERNAL"]);
    expect(failing.isClosed).toBe(false);
  });

  it("a stream the server refuses at once ends the subscription with that error", async () => {
    const s = await start();
    const c = client(s);
    const sub = c.subscribe("gmqtest.Ticker/ticks", () => {}, {
      args: { failAfter: 0, failCode: Status.PERMISSION_DENIED, failMessage: "not yours" },
    });
    const error = await failure(sub.ready);
    expect([error.code, error.reason, error.message]).toEqual([
      "forbidden",
      "PERMISSION_DENIED",
      "not yours",
    ]);
    expect(sub.isClosed).toBe(true);
  });

  it("a slow subscriber never holds more than maxBuffered unsettled messages, and loses none", async () => {
    const s = await start();
    // Counts what the adapter hands to the core (delivered), to compare with what the handler
    // has finished (settled): the difference is what the subscription holds.
    let delivered = 0;
    let settled = 0;
    let most = 0;
    const transport = grpcWeb({ url: s.url, services });
    const counting: Transport = {
      ...transport,
      subscribe: (request, options) =>
        transport.subscribe!(request, {
          ...options,
          sink: {
            message(message) {
              delivered++;
              most = Math.max(most, delivered - settled);
              options.sink.message(message);
            },
            end: (error) => options.sink.end(error),
          },
        }),
    };
    const c = createClient({ transport: counting });
    clients.push(c);
    const seen: number[] = [];
    const sub = c.subscribe<Tick>(
      "gmqtest.Ticker/ticks",
      async (m: Message<Tick>) => {
        seen.push(m.data.seq);
        await sleep(15);
        settled++;
      },
      { args: { count: 30 }, maxBuffered: 3 },
    );
    await sub.ready;
    await waitFor(() => seen.length === 30, 10_000, "30 ticks");
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(most).toBe(3);
  });
});
