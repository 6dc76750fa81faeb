import { getEventListeners } from "node:events";
import { type Client, createClient, GmqError, type StateChange, type Transport } from "gmq";
import { waitFor } from "gmq/contract";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createMemoryBroker, type MemoryBroker } from "../adapters/testing/index.js";
import { recordScenario, tally } from "./support/reliability.js";

const clients: Client[] = [];
function client(broker: MemoryBroker, extra: Partial<Parameters<typeof createClient>[0]> = {}): Client {
  const c = createClient({
    transport: broker.transport(),
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    ...extra,
  });
  c.on("error", () => {});
  clients.push(c);
  return c;
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function codeOf(work: () => unknown): Promise<{ code: string; field: string | undefined }> {
  try {
    await work();
  } catch (error) {
    expect(error).toBeInstanceOf(GmqError);
    return { code: (error as GmqError).code, field: (error as GmqError).field };
  }
  throw new Error("expected a GmqError");
}

describe("arguments", () => {
  it("names the offending field for every kind of bad input", async () => {
    const c = client(createMemoryBroker());
    const cases: [() => unknown, string][] = [
      [() => c.publish(undefined as unknown as string, 1), "topic"],
      [() => c.publish("a/#", 1), "topic"],
      [() => c.publish("a", undefined), "payload"],
      [() => c.publish("a", () => 1), "payload"],
      [() => c.publish("a", 1, { ttlMs: -5 }), "ttlMs"],
      [() => c.publish("a", 1, { key: "" }), "key"],
      [() => c.publish("a", 1, { headers: { x: 1 as unknown as string } }), "headers.x"],
      [() => c.publish("a", 1, { signal: {} as AbortSignal }), "signal"],
      [() => c.subscribe("", () => {}), "pattern"],
      [() => c.subscribe("a+/b", () => {}), "pattern"],
      [() => c.subscribe("a", () => {}, { ack: "sometimes" as "auto" }), "ack"],
      [() => c.subscribe("$share/only", () => {}), "pattern"],
      [() => c.call("svc", "a/b"), "method"],
      [() => c.call("svc", "m", {}, { timeoutMs: -1 }), "timeoutMs"],
      [() => c.handle("svc", "m", 5 as unknown as () => 1), "fn"],
      [() => createClient({ transport: {} as never }), "transport"],
      [() => createClient({ transport: c.transport, outbox: { maxCount: 0 } }), "outbox.maxCount"],
      [() => c.publish("a".repeat(65_536), 1), "topic"],
      [() => c.publish("é".repeat(32_768), 1), "topic"], // 65,536 bytes in UTF-8
      [() => createClient({ transport: c.transport, dedupWindow: -1 }), "dedupWindow"],
      [() => createClient({ transport: c.transport, dedupWindow: 1.5 }), "dedupWindow"],
    ];
    for (const [work, field] of cases) {
      expect(await codeOf(work), field).toEqual({ code: "invalid_argument", field });
    }
  });

  it("accepts a topic of exactly 65,535 UTF-8 bytes", async () => {
    const c = client(createMemoryBroker());
    await c.connect();
    const topic = `${"é".repeat(32_767)}a`; // 65,534 + 1 bytes
    expect((await c.publish(topic, 1)).status).toBe("sent");
  });

  it("refuses what the transport cannot do with unsupported", async () => {
    const c = client(createMemoryBroker());
    expect((await codeOf(() => c.publish("a", 1, { delayMs: 10 }))).code).toBe("unsupported");
  });

  it("many publishes and subscriptions under one signal share one listener on it", async () => {
    const broker = createMemoryBroker();
    broker.setOnline(false);
    const c = client(broker);
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const controller = new AbortController();
      const published = Array.from({ length: 50 }, (_, i) =>
        c.publish("many", i, { signal: controller.signal }),
      );
      const subscriptions = Array.from({ length: 50 }, (_, i) =>
        c.subscribe(`many/${i}`, () => {}, { signal: controller.signal }),
      );
      expect((await Promise.all(published)).map((r) => r.status)).toEqual(published.map(() => "queued"));
      expect(getEventListeners(controller.signal, "abort").length).toBe(1);
      controller.abort();
      await Promise.all(subscriptions.map((subscription) => subscription.ended));
      expect(c.outboxStats().count).toBe(0); // queued and aborted: withdrawn
      expect(getEventListeners(controller.signal, "abort").length).toBe(0);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
  });

  it("publish and call report bad input as a rejected promise, never a synchronous throw", async () => {
    const c = client(createMemoryBroker());
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const cases: [() => Promise<unknown>, string][] = [
      [() => c.publish("a/+", 1), "topic"],
      [() => c.call("svc/x", "m"), "service"],
      [() => c.call("svc", "m", {}, { timeoutMs: -1 }), "timeoutMs"],
      [() => c.call("svc", "m", circular), "payload"],
    ];
    for (const [work, field] of cases) {
      let returned: unknown;
      expect(() => {
        returned = work();
      }, field).not.toThrow();
      expect(returned, field).toBeInstanceOf(Promise);
      await expect(returned, field).rejects.toMatchObject({ field });
    }
  });
});

describe("subscriptions", () => {
  it("a delivered message serialises as the message alone, with its decoded data", async () => {
    const c = client(createMemoryBroker());
    await c.connect();
    let json: Record<string, unknown> | undefined;
    const sub = c.subscribe("json", (message) => {
      json = JSON.parse(JSON.stringify(message));
    });
    await sub.ready;
    await c.publish("json", { hello: "world" }, { headers: { trace: "t1" } });
    await waitFor(() => json !== undefined, 2_000, "the message");
    expect(Object.keys(json!).sort()).toEqual(["data", "headers", "id", "payload", "redelivered", "topic"]);
    expect(json).toMatchObject({ topic: "json", data: { hello: "world" }, headers: { trace: "t1" } });
  });

  it("a handler sees messages one at a time, in order, through sync and async handling and throws", async () => {
    const broker = createMemoryBroker();
    const c = client(broker);
    await c.connect();
    const errors: GmqError[] = [];
    c.on("error", (error) => errors.push(error));
    const seen: number[] = [];
    let running = 0;
    let overlapped = false;
    const sub = c.subscribe<number>("seq", (message) => {
      const n = message.data;
      if (running > 0) overlapped = true;
      seen.push(n);
      if (n % 3 === 0) throw new Error(`sync ${n}`);
      if (n % 2 === 0) return; // synchronous
      running++;
      return new Promise<void>((resolve, reject) =>
        setTimeout(() => {
          running--;
          if (n % 5 === 0) reject(new Error(`async ${n}`));
          else resolve();
        }, 1),
      );
    });
    await sub.ready;
    const sent = Array.from({ length: 30 }, (_, i) => i + 1);
    await Promise.all(sent.map((n) => c.publish("seq", n)));
    await waitFor(() => seen.length === sent.length, 5_000, "every message handled");
    expect(seen).toEqual(sent);
    expect(overlapped).toBe(false);
    const failed = sent.filter((n) => n % 3 === 0 || (n % 2 === 1 && n % 5 === 0));
    await waitFor(() => errors.length === failed.length, 1_000, "one error per failed handler");
    expect(errors.map((error) => error.reason)).toEqual(failed.map(() => "HANDLER_ERROR"));
  });

  it("an aborted signal unsubscribes and ends an async iteration", async () => {
    const broker = createMemoryBroker();
    const c = client(broker);
    const controller = new AbortController();
    const sub = c.subscribe<number>("sig/t", { signal: controller.signal });
    await sub.ready;
    await c.publish("sig/t", 1);
    const seen: number[] = [];
    const done = (async () => {
      for await (const message of sub) {
        seen.push(message.data);
        if (seen.length === 1) controller.abort();
      }
    })();
    await done;
    await c.publish("sig/t", 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([1]);
    expect(sub.isClosed).toBe(true);
    expect(getEventListeners(controller.signal, "abort").length).toBe(0);
    expect((await codeOf(() => c.subscribe("a", { signal: "no" as unknown as AbortSignal }))).field).toBe(
      "signal",
    );
  });
});

describe("routing", () => {
  it("delivers to exact and wildcard subscriptions alike, and forgets unsubscribed ones", async () => {
    const c = client(createMemoryBroker());
    const seen: string[] = [];
    const first = c.subscribe("r/a", () => void seen.push("exact-1"));
    const second = c.subscribe("r/a", () => void seen.push("exact-2"));
    const wild = c.subscribe("r/+", () => void seen.push("wild"));
    const other = c.subscribe("r/b", () => void seen.push("other"));
    await Promise.all([first.ready, second.ready, wild.ready, other.ready]);
    await c.publish("r/a", 1);
    await waitFor(() => seen.length === 3);
    expect(seen.sort()).toEqual(["exact-1", "exact-2", "wild"]);
    await first.unsubscribe();
    seen.length = 0;
    await c.publish("r/a", 2);
    await waitFor(() => seen.length === 2);
    await new Promise((r) => setTimeout(r, 30));
    expect(seen.sort()).toEqual(["exact-2", "wild"]);
  });
});

describe("calls", () => {
  it("times out at the deadline and leaves no timer, listener or pending call behind", async () => {
    const broker = createMemoryBroker();
    const server = client(broker);
    server.handle("Slow", "never", () => new Promise(() => {}));
    const caller = client(broker);
    await Promise.all([server.connect(), caller.connect()]);
    await new Promise((r) => setTimeout(r, 20));
    const controller = new AbortController();
    vi.useFakeTimers();
    const pending = caller
      .call("Slow", "never", {}, { timeoutMs: 1_000, signal: controller.signal })
      .catch((e) => e);
    await vi.advanceTimersByTimeAsync(999);
    expect(getEventListeners(controller.signal, "abort").length).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    const failure = (await pending) as GmqError;
    expect(failure.code).toBe("timeout");
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(controller.signal, "abort").length).toBe(0);
    expect((caller as unknown as { caller: { size: number } }).caller.size).toBe(0);
  });

  it("a call on a warm connection cleans up the same way, and 100 in flight add no listener each", async () => {
    const broker = createMemoryBroker();
    const server = client(broker);
    server.handle("Echo", "now", (args) => args);
    server.handle("Slow", "never", () => new Promise(() => {}));
    const caller = client(broker);
    await Promise.all([server.connect(), caller.connect()]);
    await new Promise((r) => setTimeout(r, 20));
    expect(await caller.call("Echo", "now", 1)).toBe(1); // sets up the reply inbox
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const controller = new AbortController();
      const calls = Array.from({ length: 100 }, () =>
        caller.call("Slow", "never", {}, { timeoutMs: 60_000, signal: controller.signal }).catch((e) => e),
      );
      await new Promise((r) => setTimeout(r, 20));
      expect((caller as unknown as { caller: { size: number } }).caller.size).toBe(100);
      controller.abort();
      const failures = (await Promise.all(calls)) as GmqError[];
      expect(failures.map((failure) => failure.code)).toEqual(failures.map(() => "aborted"));
      expect(getEventListeners(controller.signal, "abort").length).toBe(0);
      expect((caller as unknown as { caller: { size: number } }).caller.size).toBe(0);
      vi.useFakeTimers();
      const late = caller.call("Slow", "never", {}, { timeoutMs: 500 }).catch((e) => e);
      await vi.advanceTimersByTimeAsync(500);
      expect(((await late) as GmqError).code).toBe("timeout");
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
  });

  it("closing a server does not report replies still awaiting the broker's ack as errors", async () => {
    const broker = createMemoryBroker();
    const inner = broker.transport();
    // Replies reach the caller, but their acknowledgement never comes before the close.
    const unacked: ((error: unknown) => void)[] = [];
    const transport: Transport = {
      name: inner.name,
      capabilities: inner.capabilities,
      connect: (sink, options) => inner.connect!(sink, options),
      disconnect: async () => {
        for (const fail of unacked.splice(0))
          fail(new GmqError("disconnected", "connection closed by the app"));
        await inner.disconnect();
      },
      publish: (message, options) =>
        message.topic.startsWith("_gmq/inbox/")
          ? inner.publish(message, options).then(() => new Promise<void>((_, reject) => unacked.push(reject)))
          : inner.publish(message, options),
      subscribe: (request, options) => inner.subscribe!(request, options),
      unsubscribe: (request, options) => inner.unsubscribe!(request, options),
    };
    const server = client(broker, { transport });
    const serverErrors: GmqError[] = [];
    server.on("error", (error) => serverErrors.push(error));
    server.handle("Echo", "now", (args) => args);
    const caller = client(broker);
    await Promise.all([server.connect(), caller.connect()]);
    await new Promise((r) => setTimeout(r, 20));
    expect(await Promise.all([1, 2, 3].map((n) => caller.call("Echo", "now", n)))).toEqual([1, 2, 3]);
    expect(unacked.length).toBe(3);
    await server.close();
    expect(serverErrors).toEqual([]);
  });

  it("answers a request that arrives while the server is still restoring its subscriptions", async () => {
    const broker = createMemoryBroker();
    const inner = broker.transport();
    // The broker routes to the subscription at once, but its confirmation comes late: the
    // server is still connecting when the first request reaches its handler.
    let confirmLate!: () => void;
    const confirmed = new Promise<void>((resolve) => {
      confirmLate = resolve;
    });
    const transport: Transport = {
      name: inner.name,
      capabilities: inner.capabilities,
      connect: (sink, options) => inner.connect!(sink, options),
      disconnect: () => inner.disconnect(),
      publish: (message, options) => inner.publish(message, options),
      subscribe: async (request, options) => {
        await inner.subscribe!(request, options);
        if (request.pattern.startsWith("_gmq/rpc/")) await confirmed;
      },
      unsubscribe: (request, options) => inner.unsubscribe!(request, options),
    };
    const server = client(broker, { transport });
    let handled = 0;
    server.handle("Early", "ping", () => {
      handled++;
      return "pong";
    });
    const serverUp = server.connect();
    const caller = client(broker);
    await caller.connect();
    const reply = caller.call("Early", "ping", null, { timeoutMs: 2_000 });
    await waitFor(() => handled === 1, 2_000, "the handler ran");
    expect(server.state).toBe("connecting");
    expect(await reply).toBe("pong");
    confirmLate();
    await serverUp;
  });

  it("abort rejects with aborted and cleans up the same way", async () => {
    const broker = createMemoryBroker();
    const server = client(broker);
    server.handle("Slow", "never", () => new Promise(() => {}));
    const caller = client(broker);
    await Promise.all([server.connect(), caller.connect()]);
    await new Promise((r) => setTimeout(r, 20));
    const controller = new AbortController();
    const pending = caller
      .call("Slow", "never", {}, { timeoutMs: 60_000, signal: controller.signal })
      .catch((e) => e);
    await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    expect(((await pending) as GmqError).code).toBe("aborted");
    expect(getEventListeners(controller.signal, "abort").length).toBe(0);
    expect((caller as unknown as { caller: { size: number } }).caller.size).toBe(0);
  });

  it("no responder, timeout and remote error are three different codes", async () => {
    const broker = createMemoryBroker();
    const server = client(broker);
    server.handle("Svc", "fail", () => {
      throw new Error("boom");
    });
    server.handle("Svc", "hang", () => new Promise(() => {}));
    const caller = client(broker);
    await Promise.all([server.connect(), caller.connect()]);
    await new Promise((r) => setTimeout(r, 20));
    const codes = await Promise.all([
      caller.call("Svc", "missing", {}, { timeoutMs: 500 }).catch((e: GmqError) => e.code),
      caller.call("Svc", "hang", {}, { timeoutMs: 100 }).catch((e: GmqError) => e.code),
      caller.call("Svc", "fail", {}, { timeoutMs: 500 }).catch((e: GmqError) => e.code),
    ]);
    expect(codes).toEqual(["no_responder", "timeout", "remote"]);
  });

  it("a call waits for the connection and fails `disconnected` when it drops mid-call", async () => {
    const broker = createMemoryBroker();
    const server = client(broker);
    server.handle("Svc", "hang", () => new Promise(() => {}));
    const caller = client(broker);
    await Promise.all([server.connect(), caller.connect()]);
    await new Promise((r) => setTimeout(r, 20));
    const pending = caller.call("Svc", "hang", {}, { timeoutMs: 5_000 }).catch((e: GmqError) => e.code);
    await new Promise((r) => setTimeout(r, 20));
    broker.dropConnections();
    expect(await pending).toBe("disconnected");
  });
});

describe("outbox", () => {
  it("delivers queued messages exactly once even when the broker delivers everything twice", async () => {
    const broker = createMemoryBroker({ duplicates: true });
    const receiver = client(broker);
    const got: number[] = [];
    let redeliveries = 0;
    await receiver.subscribe<number>("dup/t", (m) => {
      got.push(m.data);
    }).ready;
    const sender = client(broker, { onConnect: () => waitFor(() => receiver.state === "connected") });
    recordScenario(() => ({
      scenario: "a broker that delivers everything twice (memory transport)",
      injected: "100 messages queued offline; the broker then delivers each one twice",
      ...tally(
        Array.from({ length: 100 }, (_, i) => i),
        got,
      ),
      notes: "the receiver drops the second copies by message id",
    }));
    await sender.connect();
    broker.setOnline(false);
    await waitFor(() => sender.state === "reconnecting");
    for (let i = 0; i < 100; i++) expect((await sender.publish("dup/t", i)).status).toBe("queued");
    broker.setOnline(true);
    await waitFor(() => got.length >= 100);
    await new Promise((r) => setTimeout(r, 100));
    redeliveries = broker.accepted.length;
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(redeliveries).toBe(100);
    expect((receiver as unknown as { router: { duplicatesDropped: number } }).router.duplicatesDropped).toBe(
      100,
    );
  });

  it("aborting a queued publish removes it from the outbox; it is never sent", async () => {
    const broker = createMemoryBroker();
    broker.setOnline(false);
    const sender = client(broker);
    const dropped: string[] = [];
    sender.on("dropped", (e) => dropped.push(e.reason));
    const controller = new AbortController();
    const kept = await sender.publish("q/a", "keep");
    const gone = await sender.publish("q/a", "gone", { signal: controller.signal });
    expect([kept.status, gone.status]).toEqual(["queued", "queued"]);
    expect(sender.outboxStats().count).toBe(2);
    controller.abort();
    expect(sender.outboxStats().count).toBe(1);
    expect(dropped).toEqual(["aborted"]);
    broker.setOnline(true);
    await waitFor(() => broker.accepted.length === 1 && sender.outboxStats().count === 0);
    expect(new TextDecoder().decode(broker.accepted[0]!.payload)).toBe('"keep"');
  });

  it("latest-per-key replaces an unsent older message, and ttl expires one", async () => {
    const broker = createMemoryBroker();
    broker.setOnline(false);
    const sender = client(broker);
    const dropped: string[] = [];
    sender.on("dropped", (e) => dropped.push(`${e.reason}:${e.topic}`));
    await sender.publish("pos/1", { x: 1 }, { key: "pos" });
    await sender.publish("pos/1", { x: 2 }, { key: "pos" });
    await sender.publish("tmp/1", "short", { ttlMs: 1 });
    await new Promise((r) => setTimeout(r, 10));
    broker.setOnline(true);
    await waitFor(() => sender.outboxStats().count === 0);
    expect(broker.accepted.map((m) => new TextDecoder().decode(m.payload))).toEqual(['{"x":2}']);
    expect(dropped.sort()).toEqual(["expired:tmp/1", "replaced:pos/1"]);
  });

  it("enforces limits: reject policy fails with busy, drop-oldest drops with an event", async () => {
    const broker = createMemoryBroker();
    broker.setOnline(false);
    const strict = client(broker, { outbox: { maxCount: 2 } });
    await strict.publish("l/a", 1);
    await strict.publish("l/a", 2);
    const full = (await strict.publish("l/a", 3).catch((e) => e)) as GmqError;
    expect([full.code, full.reason]).toEqual(["busy", "OUTBOX_FULL"]);
    const lenient = client(broker, { outbox: { maxCount: 2, overflow: "drop-oldest" } });
    const dropped: unknown[] = [];
    lenient.on("dropped", (e) => dropped.push(e.reason));
    const first = await lenient.publish("l/b", 1);
    await lenient.publish("l/b", 2);
    await lenient.publish("l/b", 3);
    expect(first.status).toBe("queued");
    expect(dropped).toEqual(["overflow"]);
    expect(lenient.outboxStats().count).toBe(2);
  });

  it("qos 0 is never queued: offline fails at once with `disconnected`", async () => {
    const broker = createMemoryBroker();
    broker.setOnline(false);
    const c = client(broker);
    expect((await codeOf(() => c.publish("a", 1, { qos: 0 }))).code).toBe("disconnected");
    expect(c.outboxStats().count).toBe(0);
  });

  it("closing with a memory store reports what it held as dropped", async () => {
    const broker = createMemoryBroker();
    broker.setOnline(false);
    const c = client(broker);
    const dropped: string[] = [];
    c.on("dropped", (e) => dropped.push(e.reason));
    await c.publish("a", 1);
    await c.close();
    expect(dropped).toEqual(["closed"]);
    expect((await codeOf(() => c.publish("a", 1))).code).toBe("closed");
  });
});

describe("connection", () => {
  it("runs the onConnect hook before subscriptions resume and before the outbox flushes", async () => {
    const broker = createMemoryBroker();
    const order: string[] = [];
    const loginServer = client(broker);
    loginServer.handle("Login", "login", (args: { user: string }) => {
      order.push(`login:${args.user}`);
      return "ok";
    });
    await loginServer.connect();
    const transport = broker.transport();
    const originalSubscribe = transport.subscribe!.bind(transport);
    const originalPublish = transport.publish.bind(transport);
    transport.subscribe = (request, options) => {
      if (!request.pattern.startsWith("_gmq/")) order.push(`subscribe:${request.pattern}`);
      return originalSubscribe(request, options);
    };
    transport.publish = (message, options) => {
      if (!message.topic.startsWith("_gmq/")) order.push(`publish:${message.topic}`);
      return originalPublish(message, options);
    };
    const c = createClient({
      transport,
      reconnect: { initialDelayMs: 10, maxDelayMs: 20 },
      onConnect: async (session) => {
        order.push("hook");
        await session.call("Login", "login", { user: "ann" });
      },
    });
    clients.push(c);
    c.subscribe("room/+", () => {});
    await c.connect();
    await c.publish("room/1", "hi");
    order.length = 0;
    broker.setOnline(false);
    await waitFor(() => c.state === "reconnecting");
    await c.publish("room/1", "while offline");
    broker.setOnline(true);
    await waitFor(() => order.includes("publish:room/1"));
    // An attempt whose login call fails (the login server may reconnect later) is retried, so
    // "hook" can appear more than once; what matters is the order after the successful login.
    const login = order.lastIndexOf("login:ann");
    expect(order.lastIndexOf("hook")).toBeLessThan(login);
    expect(order.slice(login)).toEqual(["login:ann", "subscribe:room/+", "publish:room/1"]);
    expect(order.slice(0, login).every((step) => step === "hook")).toBe(true);
  });

  it("retries with backoff, streams states, and ends the stream on close", async () => {
    const broker = createMemoryBroker();
    broker.setOnline(false);
    const c = client(broker, { reconnect: { initialDelayMs: 5, maxDelayMs: 20 } });
    const seen: StateChange[] = [];
    const streamDone = (async () => {
      for await (const change of c.status()) seen.push(change);
    })();
    await waitFor(() => seen.filter((s) => s.to === "reconnecting").length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    broker.setOnline(true);
    await waitFor(() => c.state === "connected");
    await c.close();
    await streamDone;
    expect(seen[0]).toMatchObject({ from: "connecting", to: "connecting" });
    expect(seen.map((s) => s.to)).toContain("connected");
    expect(seen.at(-1)!.to).toBe("closed");
    const attempts = seen.filter((s) => s.to === "reconnecting").length;
    expect(attempts).toBeGreaterThanOrEqual(1);
  });

  it("reconnect: false stops after the first failure and rejects connect()", async () => {
    const broker = createMemoryBroker();
    broker.setOnline(false);
    const c = client(broker, { reconnect: false, autoConnect: false });
    const failure = (await c.connect().catch((e) => e)) as GmqError;
    expect(failure.code).toBe("disconnected");
    expect(c.state).toBe("disconnected");
  });

  it("close() rejects pending calls with `closed` and [Symbol.asyncDispose] closes", async () => {
    const broker = createMemoryBroker();
    const server = client(broker);
    server.handle("Svc", "hang", () => new Promise(() => {}));
    await server.connect();
    let pending: Promise<unknown>;
    {
      await using c = createClient({ transport: broker.transport() });
      await c.connect();
      await new Promise((r) => setTimeout(r, 20));
      pending = c.call("Svc", "hang", {}, { timeoutMs: 5_000 }).catch((e: GmqError) => e.code);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await pending).toBe("closed");
  });
});
