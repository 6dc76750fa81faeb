/**
 * `gmq/websocket` building blocks: close codes acted on by range, `error` frames mapped one to
 * one, payload encoding (UTF-8 as text, other bytes as base64), and the bounded send queue
 * (frames wait while the socket is backed up; past the bound a sender waits or gives up).
 */
import { GmqError, isPermanent } from "gmq";
import { closeError, WEBSOCKET_REASONS, wireError } from "gmq/websocket";
import { describe, expect, it } from "vitest";
import { putPayload, takePayload } from "../adapters/websocket/payload.js";
import { SendQueue } from "../adapters/websocket/send-queue.js";

describe("close codes", () => {
  it("stop codes are permanent errors; the rest are disconnected and retried", () => {
    const cases: [number, string, string][] = [
      [4000, "unsupported", WEBSOCKET_REASONS.protocol_error],
      [4001, "unauthenticated", WEBSOCKET_REASONS.unauthenticated],
      [4002, "unsupported", WEBSOCKET_REASONS.unsupported_protocol],
      [4003, "forbidden", WEBSOCKET_REASONS.forbidden],
      [4099, "unsupported", WEBSOCKET_REASONS.unknown_close],
      [1003, "unsupported", WEBSOCKET_REASONS.unsupported_data],
      [4100, "disconnected", WEBSOCKET_REASONS.shutdown],
      [4101, "disconnected", WEBSOCKET_REASONS.token_expired],
      [4150, "disconnected", WEBSOCKET_REASONS.unknown_close],
      [4201, "disconnected", WEBSOCKET_REASONS.slow_consumer],
      [1006, "disconnected", WEBSOCKET_REASONS.abnormal],
      [1009, "disconnected", WEBSOCKET_REASONS.message_too_big],
      [3000, "disconnected", WEBSOCKET_REASONS.unknown_close],
    ];
    for (const [code, expected, reason] of cases) {
      const error = closeError(code, "why", false);
      expect([code, error.code, error.reason]).toEqual([code, expected, reason]);
      expect(isPermanent(error)).toBe(expected !== "disconnected");
      expect(error.details).toEqual({ closeCode: code, closeReason: "why" });
    }
    // Our own close is never a reason to stop.
    expect(closeError(4000, "", true).code).toBe("disconnected");
  });

  it("error frames keep code, reason, details and field; unknown codes are remote", () => {
    const error = wireError(
      { code: "invalid_argument", message: "bad", field: "topic", reason: "R", details: { a: 1 } },
      "x",
    );
    expect([error.code, error.message, error.field, error.reason, error.details]).toEqual([
      "invalid_argument",
      "bad",
      "topic",
      "R",
      { a: 1 },
    ]);
    expect(wireError({ code: "what" as "busy", message: "" }, "fallback").code).toBe("remote");
  });
});

describe("payloads", () => {
  it("sends UTF-8 as text and other bytes as base64, and reads both back", () => {
    const text: { payload?: string; enc?: "b64" } = {};
    putPayload(text, new TextEncoder().encode("héllo ✓"));
    expect(text).toEqual({ payload: "héllo ✓" });
    const bytes = new Uint8Array([0, 255, 254, 1, 128]);
    const binary: { payload?: string; enc?: "b64" } = {};
    putPayload(binary, bytes);
    expect(binary).toEqual({ payload: "AP/+AYA=", enc: "b64" });
    expect(Array.from(takePayload(binary))).toEqual(Array.from(bytes));
    const empty: { payload?: string } = {};
    putPayload(empty, new Uint8Array(0));
    expect(empty).toEqual({});
    expect(takePayload({}).byteLength).toBe(0);
    const large = new Uint8Array(200_000).map((_, i) => (i * 7) % 256);
    const big: { payload?: string; enc?: "b64" } = {};
    putPayload(big, large);
    expect(takePayload(big)).toEqual(large);
    expect(() => takePayload({ payload: "x", enc: "zip" })).toThrow(GmqError);
  });
});

describe("send queue", () => {
  const target = () => {
    const sent: string[] = [];
    return { sent, bufferedAmount: 0, send: (text: string) => void sent.push(text) };
  };

  it("holds frames while the socket is backed up, bounds what it holds, and drains in order", async () => {
    const socket = target();
    const queue = new SendQueue(socket, { maxQueuedBytes: 10, socketBufferBytes: 100 });
    await queue.push("a");
    expect(socket.sent).toEqual(["a"]);
    socket.bufferedAmount = 1_000; // backed up
    const first = queue.push("12345");
    const second = queue.push("67890");
    let thirdDone = false;
    const third = queue.push("abcde").then(() => (thirdDone = true)); // over the bound: waits for room
    const controller = new AbortController();
    const gaveUp = queue.push("zzzzz", controller.signal).catch((e: GmqError) => e.code);
    controller.abort();
    expect(await gaveUp).toBe("aborted");
    await new Promise((r) => setTimeout(r, 30));
    expect(socket.sent).toEqual(["a"]);
    expect(thirdDone).toBe(false);
    socket.bufferedAmount = 0;
    await Promise.all([first, second, third]);
    expect(socket.sent).toEqual(["a", "12345", "67890", "abcde"]);
  });

  it("paces frames to the announced rate", async () => {
    const socket = target();
    const queue = new SendQueue(socket, { maxQueuedBytes: 1 << 20, socketBufferBytes: 1 << 20 });
    queue.setRate({ perSecond: 100, burst: 4 }); // bucket of 2, refilled at 90/s
    const sends = Array.from({ length: 6 }, (_, i) => queue.push(String(i)));
    expect(socket.sent.length).toBe(2);
    await Promise.all(sends);
    expect(socket.sent).toEqual(["0", "1", "2", "3", "4", "5"]);
  });

  it("fails what waits when the connection goes", async () => {
    const socket = target();
    socket.bufferedAmount = 1_000;
    const queue = new SendQueue(socket, { maxQueuedBytes: 10, socketBufferBytes: 100 });
    const waiting = queue.push("x").catch((e: GmqError) => e.code);
    queue.fail(new GmqError("disconnected", "gone"));
    expect(await waiting).toBe("disconnected");
    await expect(queue.push("y")).rejects.toMatchObject({ code: "disconnected" });
  });
});
