/**
 * One error rule per situation: aborts are `aborted` with the reason as cause, "not connected"
 * is `disconnected` everywhere, a local handler's failure is `handler_error`, and GmqError is
 * recognised across two copies of the package.
 */
import { createRequire } from "node:module";
import { createClient, type DroppedEvent, ERROR_CODES, GmqError, type StateChange } from "gmq";
import { waitFor } from "gmq/contract";
import { MQANT_REASONS } from "gmq/mqant";
import { MQTT_REASONS } from "gmq/mqtt";
import { createMemoryBroker } from "gmq/testing";
import { afterEach, describe, expect, it } from "vitest";
import { connackError, reasonName, subackError } from "../adapters/mqtt/errors.js";

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
    expect(new Set(ERROR_CODES).size, "each code once").toBe(ERROR_CODES.length);
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

  it("the MQTT reason names, from mqtt.js's texts, are the MQTT 5 names (3.1.1's for the CONNACK codes)", () => {
    const names: Record<number, string> = {
      1: "UNACCEPTABLE_PROTOCOL_VERSION",
      2: "IDENTIFIER_REJECTED",
      3: "SERVER_UNAVAILABLE",
      4: "BAD_USERNAME_OR_PASSWORD",
      5: "NOT_AUTHORIZED",
      16: "NO_MATCHING_SUBSCRIBERS",
      17: "NO_SUBSCRIPTION_EXISTED",
      128: "UNSPECIFIED_ERROR",
      129: "MALFORMED_PACKET",
      130: "PROTOCOL_ERROR",
      131: "IMPLEMENTATION_SPECIFIC_ERROR",
      132: "UNSUPPORTED_PROTOCOL_VERSION",
      133: "CLIENT_IDENTIFIER_NOT_VALID",
      134: "BAD_USERNAME_OR_PASSWORD",
      135: "NOT_AUTHORIZED",
      136: "SERVER_UNAVAILABLE",
      137: "SERVER_BUSY",
      138: "BANNED",
      139: "SERVER_SHUTTING_DOWN",
      140: "BAD_AUTHENTICATION_METHOD",
      141: "KEEP_ALIVE_TIMEOUT",
      142: "SESSION_TAKEN_OVER",
      143: "TOPIC_FILTER_INVALID",
      144: "TOPIC_NAME_INVALID",
      145: "PACKET_IDENTIFIER_IN_USE",
      146: "PACKET_IDENTIFIER_NOT_FOUND",
      147: "RECEIVE_MAXIMUM_EXCEEDED",
      148: "TOPIC_ALIAS_INVALID",
      149: "PACKET_TOO_LARGE",
      150: "MESSAGE_RATE_TOO_HIGH",
      151: "QUOTA_EXCEEDED",
      152: "ADMINISTRATIVE_ACTION",
      153: "PAYLOAD_FORMAT_INVALID",
      154: "RETAIN_NOT_SUPPORTED",
      155: "QOS_NOT_SUPPORTED",
      156: "USE_ANOTHER_SERVER",
      157: "SERVER_MOVED",
      158: "SHARED_SUBSCRIPTIONS_NOT_SUPPORTED",
      159: "CONNECTION_RATE_EXCEEDED",
      160: "MAXIMUM_CONNECT_TIME",
      161: "SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED",
      162: "WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED",
    };
    for (let code = 0; code < 256; code++) expect(reasonName(code)).toBe(names[code] ?? `REASON_${code}`);
    const adapters = [
      "CLOSED_BEFORE_CONNACK",
      "CONNACK_TIMEOUT",
      "KEEPALIVE_TIMEOUT",
      "CREDENTIALS_FAILED",
      "MALFORMED_ENVELOPE",
    ];
    expect(Object.keys(MQTT_REASONS).sort()).toEqual(
      [...new Set([...Object.values(names), ...adapters])].sort(),
    );
    for (const [name, value] of Object.entries(MQTT_REASONS)) expect(value).toBe(name);
  });
});

describe("failures a retry cannot fix", () => {
  /** A memory transport whose first `refusals` connects are refused with `code`. */
  function refusing(
    code: "unauthenticated" | "tls" | "disconnected",
    refusals: number,
    retry?: () => boolean,
  ) {
    const inner = createMemoryBroker().transport();
    let attempts = 0;
    return {
      get attempts() {
        return attempts;
      },
      transport: {
        ...inner,
        connect: (
          sink: Parameters<NonNullable<typeof inner.connect>>[0],
          options: { signal: AbortSignal },
        ) => {
          attempts++;
          if (attempts <= refusals)
            return Promise.reject(new GmqError(code, `refused (${code})`, { reason: "TEST" }));
          return inner.connect!(sink, options);
        },
        ...(retry && { shouldRetry: retry }),
      },
    };
  }

  it("stops retrying: connect() rejects with the cause, and the state change carries it", async () => {
    for (const code of ["unauthenticated", "tls"] as const) {
      const backend = refusing(code, 1_000);
      const c = createClient({
        transport: backend.transport,
        reconnect: { initialDelayMs: 5, maxDelayMs: 10 },
      });
      clients.push(c);
      const changes: StateChange[] = [];
      c.on("state", (change) => changes.push(change));
      c.on("error", () => {});
      const failure = await c.connect().catch((e: unknown) => e);
      expect(GmqError.is(failure) && failure.code).toBe(code);
      expect(c.state).toBe("disconnected");
      expect(changes.at(-1)?.error?.code).toBe(code);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(backend.attempts).toBe(1);
    }
  });

  it("retries when the transport says new credentials may work, and connect() tries again when asked", async () => {
    let fresh = true;
    const backend = refusing("unauthenticated", 2, () => fresh);
    const c = createClient({
      transport: backend.transport,
      reconnect: { initialDelayMs: 5, maxDelayMs: 10 },
    });
    clients.push(c);
    c.on("error", () => {});
    await c.connect({ timeoutMs: 2_000 });
    expect(backend.attempts).toBe(3);

    fresh = false;
    const again = refusing("unauthenticated", 1, () => fresh);
    const d = createClient({ transport: again.transport, reconnect: { initialDelayMs: 5, maxDelayMs: 10 } });
    clients.push(d);
    d.on("error", () => {});
    expect(((await d.connect().catch((e) => e)) as GmqError).code).toBe("unauthenticated");
    await d.connect({ timeoutMs: 2_000 }); // the app asked again: one more attempt, which works
    expect(again.attempts).toBe(2);
  });

  it("a deadline that passes while transient attempts fail says what the last one failed with", async () => {
    const backend = refusing("disconnected", 1_000);
    const c = createClient({
      transport: backend.transport,
      reconnect: { initialDelayMs: 5, maxDelayMs: 10 },
    });
    clients.push(c);
    c.on("error", () => {});
    const failure = (await c.connect({ timeoutMs: 200 }).catch((e) => e)) as GmqError;
    expect(failure.code).toBe("timeout");
    expect((failure.cause as GmqError).code).toBe("disconnected");
    expect(failure.message).toContain("refused (disconnected)");
  });
});
