/**
 * One error rule per situation: aborts are `aborted` with the reason as cause, "not connected"
 * is `disconnected` everywhere, a local handler's failure is `handler_error`, and GmqError is
 * recognised across two copies of the package.
 */
import { createRequire } from "node:module";
import { createClient, type DroppedEvent, ERROR_CODES, GmqError } from "gmq";
import { waitFor } from "gmq/contract";
import { MQANT_REASONS } from "gmq/mqant";
import { MQTT_REASONS } from "gmq/mqtt";
import { createMemoryBroker } from "gmq/testing";
import { afterEach, describe, expect, it } from "vitest";
import { connackError, subackError } from "../adapters/mqtt/errors.js";

const clients: ReturnType<typeof createClient>[] = [];
const client = (broker = createMemoryBroker(), extra = {}) => {
  const c = createClient({
    transport: broker.transport(),
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    ...extra,
  });
  c.on("error", () => {});
  clients.push(c);
  return c;
};
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe("error rules", () => {
  it("has one code for not connected, and none called offline", () => {
    expect(ERROR_CODES).toContain("disconnected");
    expect(ERROR_CODES as readonly string[]).not.toContain("offline");
  });

  it("an abort mid-flight is `aborted` with the reason as cause, for publish, call, subscribe and connect", async () => {
    for (const reason of ["user left", new Error("navigated away")]) {
      const broker = createMemoryBroker();
      const server = client(broker);
      server.handle("Slow", "never", () => new Promise(() => {}));
      await server.connect();
      const c = client(broker);
      await c.connect();
      broker.setOnline(false);
      await waitFor(() => c.state !== "connected", 2_000, "the client to notice");

      const controller = new AbortController();
      const dropped: DroppedEvent[] = [];
      c.on("dropped", (event) => dropped.push(event));
      // Offline, a publish settles as soon as it is queued; the signal can still withdraw it.
      expect((await c.publish("t", 1, { signal: controller.signal })).status).toBe("queued");
      const connect = c.connect({ signal: controller.signal });
      const subscription = c.subscribe("t", () => {}, { signal: controller.signal });
      const call = c.call("Slow", "never", {}, { signal: controller.signal, timeoutMs: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      controller.abort(reason);
      for (const outcome of await Promise.allSettled([connect, subscription.ready, call])) {
        expect(outcome.status).toBe("rejected");
        const error = (outcome as PromiseRejectedResult).reason;
        expect(GmqError.is(error) && error.code).toBe("aborted");
        expect((error as GmqError).cause).toBe(reason);
      }
      expect(subscription.isClosed).toBe(true);
      expect(c.outboxStats().count).toBe(0); // the aborted publish left the outbox…
      expect(dropped.map((event) => [event.reason, event.error?.code, event.error?.cause])).toEqual([
        ["aborted", "aborted", reason], // …and said so
      ]);
      broker.setOnline(true);
    }
  });

  it("a subscriber's own handler that throws is `handler_error`, not `remote`", async () => {
    const c = client();
    const errors: GmqError[] = [];
    c.on("error", (error) => errors.push(error));
    await c.subscribe("boom", () => {
      throw new Error("local bug");
    }).ready;
    await c.publish("boom", 1);
    await waitFor(() => errors.length > 0, 2_000, "the error event");
    expect(errors[0]!.code).toBe("handler_error");
    expect((errors[0]!.cause as Error).message).toBe("local bug");
  });

  it("GmqError is recognised across two copies of the package", () => {
    // The CommonJS build is a second copy of gmq, with its own GmqError class.
    const other = createRequire(import.meta.url)("../dist/index.cjs") as typeof import("gmq");
    expect(other.GmqError).not.toBe(GmqError);
    const foreign = new other.GmqError("timeout", "from the other copy");
    expect(foreign instanceof GmqError).toBe(true);
    expect(GmqError.is(foreign)).toBe(true);
    expect(GmqError.from(foreign)).toBe(foreign);
    expect(new GmqError("busy", "ours") instanceof other.GmqError).toBe(true);
    expect(GmqError.is(new Error("plain"))).toBe(false);
    expect(GmqError.is({ code: "timeout", message: "look-alike" })).toBe(false);
  });

  it("each adapter exports its reason strings as constants", () => {
    expect(Object.values(MQTT_REASONS)).toContain(connackError(0x86).reason);
    expect(Object.values(MQTT_REASONS)).toContain(subackError(0x87, "a/b").reason);
    expect(subackError(0x87, "a/b").code).toBe("forbidden");
    for (const [name, value] of Object.entries(MQANT_REASONS)) expect(value).toBe(name);
  });
});
