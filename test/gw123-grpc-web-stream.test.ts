/**
 * The test-only gmqtest.Ticker service of startCommentServer(): a server stream that can be
 * paced, failed and killed, and a unary echo of the received metadata.
 */

import { type CommentServer, startCommentServer } from "gmq/testing";
import { ClientError, createChannel, createClient, FetchTransport, Metadata, Status } from "nice-grpc-web";
import { afterEach, describe, expect, it } from "vitest";
import {
  RelayDefinition,
  Tick,
  TickerDefinition,
  TickRequest,
} from "../examples/comments/generated/gmqtest.js";
import { Value } from "../examples/comments/generated/google/protobuf/struct.js";

let server: CommentServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function ticker() {
  server = await startCommentServer();
  return { s: server, t: createClient(TickerDefinition, createChannel(server.url, FetchTransport())) };
}

async function waitFor(check: () => boolean, what: string) {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

function frame(flag: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header[0] = flag;
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

describe("Ticker.ticks (server stream)", () => {
  it("sends count ticks and ends with OK", async () => {
    const { s, t } = await ticker();
    const ticks = [];
    const openAtFirstTick: number[] = [];
    for await (const tick of t.ticks({ count: 3, intervalMs: 40, label: "a" })) {
      // The server is still pacing the next tick when the first arrives.
      if (ticks.length === 0) openAtFirstTick.push(s.openStreams);
      ticks.push(tick);
    }
    expect(openAtFirstTick).toEqual([1]);
    expect(ticks).toEqual([
      { seq: 1, label: "a" },
      { seq: 2, label: "a" },
      { seq: 3, label: "a" },
    ]);
    await waitFor(() => s.openStreams === 0, "the stream to close");
  });

  it("fails after fail_after ticks with a trailer frame in the body, not in the headers", async () => {
    const { s } = await ticker();
    const request = TickRequest.encode(
      TickRequest.fromPartial({
        count: 10,
        failAfter: 2,
        failCode: Status.UNAVAILABLE,
        failMessage: "gone 100%",
      }),
    ).finish();
    const res = await fetch(`${s.url}/gmqtest.Ticker/ticks`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto" },
      body: new Uint8Array(frame(0, request)),
    });
    expect(res.headers.get("grpc-status")).toBeNull();
    const body = Buffer.from(await res.arrayBuffer());
    const frames: Array<[number, string]> = [];
    for (let at = 0; at < body.length; at += 5 + body.readUInt32BE(at + 1)) {
      frames.push([body[at]!, body.subarray(at + 5, at + 5 + body.readUInt32BE(at + 1)).toString("latin1")]);
    }
    expect(frames.map(([flag]) => flag)).toEqual([0x00, 0x00, 0x80]);
    expect(frames[2]![1]).toBe("grpc-status:14\r\ngrpc-message:gone 100%25\r\n");
  });

  it("text mode: every frame of the stream is its own padded base64 segment", async () => {
    const { s } = await ticker();
    const request = TickRequest.encode(TickRequest.fromPartial({ count: 2, label: "t" })).finish();
    const res = await fetch(`${s.url}/gmqtest.Ticker/ticks`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web-text", accept: "application/grpc-web-text" },
      body: frame(0, request).toString("base64"),
    });
    expect(res.headers.get("content-type")).toBe("application/grpc-web-text+proto");
    const tick = (seq: number) => frame(0, Tick.encode({ seq, label: "t" }).finish()).toString("base64");
    const trailer = frame(0x80, Buffer.from("grpc-status:0\r\ngrpc-message:\r\n")).toString("base64");
    expect(await res.text()).toBe(tick(1) + tick(2) + trailer);
  });

  it("fails before any tick as trailers-only, which nice-grpc-web reports as the status", async () => {
    const { t } = await ticker();
    const error = await (async () => {
      for await (const _ of t.ticks({
        failAfter: 0,
        failCode: Status.PERMISSION_DENIED,
        failMessage: "拒绝",
      })) {
        // no tick is expected
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientError);
    expect([(error as ClientError).code, (error as ClientError).details]).toEqual([
      Status.PERMISSION_DENIED,
      "拒绝",
    ]);
  });

  it("killStreams() cuts an open stream mid-way like a network failure", async () => {
    const { s, t } = await ticker();
    const seen: number[] = [];
    const run = (async () => {
      for await (const tick of t.ticks({ count: 0, intervalMs: 20 })) seen.push(tick.seq);
    })();
    const outcome = run.then(
      () => "ended",
      (e: unknown) => e,
    );
    await waitFor(() => seen.length >= 2, "two ticks");
    expect(s.openStreams).toBe(1);
    expect(s.killStreams()).toBe(1);
    expect(s.openStreams).toBe(0);
    const error = await outcome;
    expect(error).not.toBe("ended");
    expect(error).toBeInstanceOf(Error);
  });

  it("a client that cancels closes the stream on the server", async () => {
    const { s, t } = await ticker();
    const abort = new AbortController();
    const seen: number[] = [];
    const run = (async () => {
      for await (const tick of t.ticks({ count: 0, intervalMs: 10 }, { signal: abort.signal }))
        seen.push(tick.seq);
    })().catch((e: unknown) => e);
    await waitFor(() => seen.length >= 1, "a tick");
    abort.abort();
    await run;
    await waitFor(() => s.openStreams === 0, "the server to see the cancel");
    expect(s.openStreams).toBe(0);
  });
});

describe("Ticker.echo", () => {
  it("returns the metadata the server received", async () => {
    const { s, t } = await ticker();
    const reply = await t.echo(
      { text: "hi" },
      { metadata: Metadata({ "custom-header-1": "v1", "x-user-agent": "gmq" }) },
    );
    expect(reply.text).toBe("hi");
    expect(reply.metadata["custom-header-1"]).toBe("v1");
    expect(reply.metadata["x-user-agent"]).toBe("gmq");
    expect(s.lastMetadata?.["custom-header-1"]).toBe("v1");
  });

  it("fails with any status and a percent-encoded message", async () => {
    const { s, t } = await ticker();
    const error = await t
      .echo({ failCode: Status.NOT_FOUND, failMessage: "100% 没有\n" })
      .catch((e: unknown) => e);
    expect([(error as ClientError).code, (error as ClientError).details]).toEqual([
      Status.NOT_FOUND,
      "100% 没有\n",
    ]);
    const raw = await fetch(`${s.url}/gmqtest.Ticker/echo`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto" },
      body: new Uint8Array(frame(0, Buffer.from([0x10, 0x05, 0x1a, 0x02, 0x25, 0x0a]))),
    });
    // grpc-go's encoding: % and bytes outside printable ASCII become %XX.
    expect([raw.headers.get("grpc-status"), raw.headers.get("grpc-message")]).toEqual(["5", "%25%0A"]);
  });
});

describe("gmqtest.Relay (JSON values for the contract suite)", () => {
  async function relay() {
    server = await startCommentServer();
    return { s: server, r: createClient(RelayDefinition, createChannel(server.url, FetchTransport())) };
  }

  it("echo answers with the value and keeps it", async () => {
    const { s, r } = await relay();
    const reply = await r.echo(Value.wrap({ n: 1, list: [true, null, "x"] }));
    expect(Value.unwrap(reply)).toEqual({ n: 1, list: [true, null, "x"] });
    expect(s.relay.echoed).toEqual([{ n: 1, list: [true, null, "x"] }]);
  });

  it("watch sends its headers before any message, then what is fed to its channel", async () => {
    const { s, r } = await relay();
    const controller = new AbortController();
    let headerAt = -1;
    const iterator = r
      .watch({ channel: "c1" }, { signal: controller.signal, onHeader: () => (headerAt = s.openStreams) })
      [Symbol.asyncIterator]();
    const first = iterator.next();
    await waitFor(() => headerAt >= 0, "the response headers");
    expect(headerAt).toBe(1);
    expect(s.relay.watching("c1")).toBe(1);
    expect(s.feed("c1", [{ a: 1 }, 2])).toBe(1);
    expect(Value.unwrap((await first).value)).toEqual({ a: 1 });
    expect(Value.unwrap((await iterator.next()).value)).toBe(2);
    controller.abort();
    await waitFor(() => s.relay.watching("c1") === 0, "the stream to close");
  });

  it("hang answers only when its deadline passes", async () => {
    const { r } = await relay();
    const error = await r.hang({}, { metadata: Metadata({ "grpc-timeout": "100m" }) }).catch((e) => e);
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).code).toBe(Status.DEADLINE_EXCEEDED);
  });
});

describe("Ticker.echo error details", () => {
  it("fail_detail travels as grpc-status-details-bin", async () => {
    const { t } = await ticker();
    let trailer: Metadata | undefined;
    const error = await t
      .echo(
        { failCode: Status.INVALID_ARGUMENT, failMessage: "bad", failDetail: "field x" },
        { onTrailer: (metadata) => (trailer = metadata) },
      )
      .catch((e) => e);
    expect((error as ClientError).code).toBe(Status.INVALID_ARGUMENT);
    const details = trailer?.get("grpc-status-details-bin");
    expect(details).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(details as Uint8Array).includes(Buffer.from("gmqtest.FailDetail"))).toBe(true);
  });
});
