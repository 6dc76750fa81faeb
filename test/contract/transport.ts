/**
 * The shared transport contract suite. Every adapter runs it through the public client API:
 *
 *   runTransportContract("mqtt over aedes", { capabilities, setup: async () => harness })
 *
 * Tests that need a capability the transport lacks are not registered (the list of what ran is
 * in the test names); everything registered asserts real behaviour against a real backend.
 */

import {
  type Client,
  createClient,
  GmqError,
  type Message,
  type Transport,
  type TransportCapabilities,
} from "gmq";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { recordScenario, tally } from "../support/reliability.js";

export interface TransportHarness {
  /** A new transport to the backend under test (not yet connected). */
  transport(): Transport;
  /** Drop every client connection at the backend; clients should reconnect by themselves. */
  dropConnections?(): Promise<void> | void;
  /** Make the backend unreachable (false) or reachable again (true). */
  setOnline?(online: boolean): Promise<void> | void;
  teardown?(): Promise<void> | void;
}

export interface ContractOptions {
  capabilities: TransportCapabilities;
  setup(): Promise<TransportHarness>;
  /** Which fault injections the harness implements (their tests run only then). */
  faults?: { dropConnections?: boolean; setOnline?: boolean };
  /** The backend tells a requester that nobody listens (e.g. MQTT 5, memory). */
  reportsNoResponder?: boolean;
  /** For transports that cannot serve calls: a backend method that returns its args as they are. */
  echo?: { service: string; method: string };
  /** For transports that cannot serve calls: a backend method that answers after several seconds. */
  slow?: { service: string; method: string };
}

let topicCounter = 0;
const uniqueTopic = (base: string) => `gmq-contract/${base}/${process.pid}-${Date.now()}-${++topicCounter}`;

export function waitFor(predicate: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (predicate()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(check, 10);
    };
    check();
  });
}

export function runTransportContract(name: string, options: ContractOptions): void {
  const caps = options.capabilities;
  const canSubscribe = caps.subscribe;
  const canCall = caps.requestReply || (caps.subscribe && caps.headers);
  const canServe = caps.subscribe && caps.headers;

  describe(`transport contract: ${name}`, () => {
    let harness: TransportHarness;
    const clients: Client[] = [];
    const client = (extra: Partial<Parameters<typeof createClient>[0]> = {}): Client => {
      const c = createClient({
        transport: harness.transport(),
        reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
        ...extra,
      });
      c.on("error", () => {}); // asserted where it matters
      clients.push(c);
      return c;
    };

    beforeAll(async () => {
      harness = await options.setup();
    });
    afterEach(async () => {
      await harness.setOnline?.(true);
      await Promise.all(clients.splice(0).map((c) => c.close()));
    });
    afterAll(async () => {
      await harness?.teardown?.();
    });

    it("connects and reports connecting -> connected", async () => {
      const c = client({ autoConnect: false });
      const states: string[] = [];
      c.on("state", (change) => states.push(change.to));
      await c.connect({ timeoutMs: 10_000 });
      expect(c.state).toBe("connected");
      expect(states).toEqual(["connecting", "connected"]);
    });

    it("rejects invalid arguments at once with invalid_argument naming the field", async () => {
      const c = client();
      const field = async (work: () => unknown) => {
        try {
          await work();
        } catch (error) {
          expect(error).toBeInstanceOf(GmqError);
          expect((error as GmqError).code).toBe("invalid_argument");
          return (error as GmqError).field;
        }
        throw new Error("did not throw");
      };
      expect(await field(() => c.publish("", 1))).toBe("topic");
      expect(await field(() => c.publish("a/+/b", 1))).toBe("topic");
      expect(await field(() => c.publish("a", 1, { qos: 3 as 1 }))).toBe("qos");
      expect(await field(() => c.publish("a", 1, { timeoutMs: -1 }))).toBe("timeoutMs");
      expect(await field(() => c.publish("a", { big: 1n }))).toBe("payload");
      expect(await field(() => c.subscribe("a/#/b", () => {}))).toBe("pattern");
      expect(await field(() => c.call("", "m"))).toBe("service");
      expect(await field(() => c.call("s", "m", {}, { timeoutMs: Number.NaN }))).toBe("timeoutMs");
    });

    if (canSubscribe) {
      it("publishes and receives JSON, text-free bytes and headers", async () => {
        const topic = uniqueTopic("roundtrip");
        const c = client();
        const received: Message[] = [];
        const sub = c.subscribe(topic, (m) => {
          received.push(m);
        });
        await sub.ready;
        const result = await c.publish(topic, { hello: "world", n: 1 }, { headers: { "x-test": "yes" } });
        expect(result.status).toBe("sent");
        await waitFor(() => received.length === 1, 10_000, "the message");
        expect(received[0]!.data).toEqual({ hello: "world", n: 1 });
        expect(received[0]!.topic).toBe(topic);
        if (caps.headers) {
          expect(received[0]!.id).toBe(result.id);
          expect(received[0]!.headers["x-test"]).toBe("yes");
        }
        if (caps.binary) {
          const bytes = new Uint8Array([0, 1, 2, 250, 255]);
          const raw: Uint8Array[] = [];
          const rawSub = c.subscribe(`${topic}/bin`, (m) => {
            raw.push(m.payload);
          });
          await rawSub.ready;
          await c.publish(`${topic}/bin`, bytes);
          await waitFor(() => raw.length === 1, 10_000, "the bytes");
          expect(Array.from(raw[0]!)).toEqual([0, 1, 2, 250, 255]);
        }
      });

      it("matches + and # wildcards", async () => {
        const base = uniqueTopic("wild");
        const c = client();
        const plus: string[] = [];
        const hash: string[] = [];
        await c.subscribe(`${base}/+/x`, (m) => {
          plus.push(m.topic);
        }).ready;
        await c.subscribe(`${base}/#`, (m) => {
          hash.push(m.topic);
        }).ready;
        for (const t of ["a/x", "b/x", "a/y", "a/b/x"]) await c.publish(`${base}/${t}`, t);
        await waitFor(() => hash.length === 4, 10_000, "the # subscriber");
        await new Promise((r) => setTimeout(r, 100));
        expect(plus.sort()).toEqual([`${base}/a/x`, `${base}/b/x`]);
        expect(hash.sort()).toEqual([`${base}/a/b/x`, `${base}/a/x`, `${base}/a/y`, `${base}/b/x`]);
      });

      it("keeps the order of 300 at-least-once publishes, each delivered once", async () => {
        const topic = uniqueTopic("order");
        const sender = client();
        const receiver = client();
        const got: number[] = [];
        await receiver.subscribe<number>(topic, (m) => {
          got.push(m.data);
        }).ready;
        await sender.connect();
        const results = await Promise.all(Array.from({ length: 300 }, (_, i) => sender.publish(topic, i)));
        expect(results.every((r) => r.status === "sent")).toBe(true);
        await waitFor(() => got.length >= 300, 15_000, "300 messages");
        await new Promise((r) => setTimeout(r, 100));
        expect(got).toEqual(Array.from({ length: 300 }, (_, i) => i));
      });

      it("iterates a subscription as an async iterator", async () => {
        const topic = uniqueTopic("iter");
        const c = client();
        const sub = c.subscribe<string>(topic);
        await sub.ready;
        for (const word of ["a", "b", "c"]) await c.publish(topic, word);
        const seen: string[] = [];
        for await (const message of sub) {
          seen.push(message.data);
          if (seen.length === 3) break;
        }
        expect(seen).toEqual(["a", "b", "c"]);
        expect(sub.isClosed).toBe(true);
      });

      it("stops delivering after unsubscribe", async () => {
        const topic = uniqueTopic("unsub");
        const c = client();
        const got: unknown[] = [];
        const sub = c.subscribe(topic, (m) => {
          got.push(m.data);
        });
        await sub.ready;
        await c.publish(topic, 1);
        await waitFor(() => got.length === 1);
        await sub.unsubscribe();
        await c.publish(topic, 2);
        await new Promise((r) => setTimeout(r, 200));
        expect(got).toEqual([1]);
      });
    }

    if (canServe) {
      it("calls and gets the reply; a remote error is `remote`", async () => {
        const server = client();
        const caller = client();
        const service = `Echo${++topicCounter}`;
        const method = "echo";
        {
          server.handle(service, method, (args: { fail?: boolean; n: number }) => {
            if (args.fail)
              throw new GmqError("invalid_argument", "you asked for it", { details: { n: args.n } });
            return { twice: args.n * 2 };
          });
          await waitFor(() => server.state === "connected");
          await new Promise((r) => setTimeout(r, 100));
          expect(await caller.call(service, method, { n: 21 }, { timeoutMs: 5_000 })).toEqual({ twice: 42 });
          const failure = await caller.call(service, method, { n: 1, fail: true }).catch((e: GmqError) => e);
          expect(failure).toBeInstanceOf(GmqError);
          expect((failure as GmqError).code).toBe("remote");
          expect((failure as GmqError).message).toContain("you asked for it");
          expect((failure as GmqError).reason).toBe("invalid_argument");
          expect((failure as GmqError).details).toEqual({ n: 1 });
        }
      });
    }

    if (canSubscribe && caps.queues) {
      it("a queue group delivers each message to exactly one member", async () => {
        const topic = uniqueTopic("queue");
        const a = client();
        const b = client();
        const seenA: number[] = [];
        const seenB: number[] = [];
        await a.subscribe<number>(
          topic,
          (m) => {
            seenA.push(m.data);
          },
          { queue: "workers" },
        ).ready;
        await b.subscribe<number>(
          topic,
          (m) => {
            seenB.push(m.data);
          },
          { queue: "workers" },
        ).ready;
        const sender = client();
        for (let i = 0; i < 40; i++) await sender.publish(topic, i);
        await waitFor(() => seenA.length + seenB.length === 40, 10_000, "40 messages");
        await new Promise((r) => setTimeout(r, 200));
        expect([...seenA, ...seenB].sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
        expect(seenA.length).toBeGreaterThan(0);
        expect(seenB.length).toBeGreaterThan(0);
      });
    }

    const echo = options.echo;
    if (caps.requestReply && echo) {
      it("calls the backend natively and decodes the reply", async () => {
        const caller = client();
        expect(await caller.call(echo.service, echo.method, { n: 42, s: "x" }, { timeoutMs: 5_000 })).toEqual(
          { n: 42, s: "x" },
        );
      });
    }

    if (canCall) {
      it("a call nobody answers fails with timeout (or no_responder) at the deadline", async () => {
        const caller = client();
        await caller.connect();
        const started = Date.now();
        const failure = (await caller
          .call("Nobody", `HD_nothing${++topicCounter}`, {}, { timeoutMs: 300 })
          .catch((e) => e)) as GmqError;
        expect(failure).toBeInstanceOf(GmqError);
        expect(failure.code).toBe(options.reportsNoResponder ? "no_responder" : "timeout");
        expect(Date.now() - started).toBeLessThan(3_000);
      });
    }

    const slow = options.slow ?? (canServe ? { service: `Slow${process.pid}`, method: "never" } : undefined);
    if (canCall && slow) {
      it("aborting a call rejects with aborted", async () => {
        if (canServe && !options.slow) {
          const server = client();
          server.handle(slow.service, slow.method, () => new Promise(() => {}));
          await server.connect();
          await new Promise((r) => setTimeout(r, 100));
        }
        const caller = client();
        await caller.connect();
        const controller = new AbortController();
        const pending = caller.call(
          slow.service,
          slow.method,
          {},
          { signal: controller.signal, timeoutMs: 10_000 },
        );
        setTimeout(() => controller.abort(), 50);
        const failure = (await pending.catch((e) => e)) as GmqError;
        expect(failure.code).toBe("aborted");
      });
    }

    if (canSubscribe && options.faults?.dropConnections) {
      it("restores subscriptions after the connection drops", async () => {
        const topic = uniqueTopic("restore");
        const c = client();
        const got: number[] = [];
        await c.subscribe<number>(topic, (m) => {
          got.push(m.data);
        }).ready;
        const reconnected = new Promise<void>((resolve) => {
          let dropped = false;
          c.on("state", (s) => {
            if (s.to === "reconnecting") dropped = true;
            if (s.to === "connected" && dropped) resolve();
          });
        });
        await harness.dropConnections!();
        await reconnected;
        await new Promise((r) => setTimeout(r, 100));
        await c.publish(topic, 7);
        await waitFor(() => got.includes(7), 10_000, "a message after reconnect");
      });
    }

    if (canSubscribe && options.faults?.setOnline) {
      it("queues publishes while offline and delivers them in order, exactly once, after reconnect", async () => {
        const setOnline = harness.setOnline!;
        const topic = uniqueTopic("offline");
        const receiver = client();
        const got: number[] = [];
        await receiver.subscribe<number>(topic, (m) => {
          got.push(m.data);
        }).ready;
        // The sender flushes only once the receiver has resubscribed (like a persistent session
        // would guarantee); otherwise the broker rightly drops messages nobody is subscribed to.
        const sender = client({ onConnect: () => waitFor(() => receiver.state === "connected") });
        recordScenario(() => ({
          scenario: `offline, then back (${name})`,
          injected: "the backend goes away; 50 messages are published into the outbox; it comes back",
          ...tally(
            Array.from({ length: 50 }, (_, i) => i),
            got,
          ),
        }));
        await sender.connect();
        await setOnline(false);
        await waitFor(() => sender.state !== "connected", 10_000, "the sender to notice");
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => sender.publish(topic, i)));
        expect(results.every((r) => r.status === "queued")).toBe(true);
        expect(sender.outboxStats().count).toBe(50);
        await setOnline(true);
        await waitFor(() => got.length >= 50, 20_000, "50 queued messages");
        await new Promise((r) => setTimeout(r, 300));
        expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i));
        await waitFor(() => sender.outboxStats().count === 0, 5_000, "an empty outbox");
      });
    }

    if (canSubscribe && caps.ack) {
      it("a manually nacked message is delivered again", async () => {
        const topic = uniqueTopic("nack");
        const c = client();
        const deliveries: boolean[] = [];
        await c.subscribe(
          topic,
          async (m) => {
            deliveries.push(m.redelivered);
            if (deliveries.length === 1) await m.nack({ requeue: true });
            else await m.ack();
          },
          { ack: "manual" },
        ).ready;
        await c.publish(topic, "again");
        await waitFor(() => deliveries.length >= 2, 10_000, "a redelivery");
        expect(deliveries[0]).toBe(false);
      });
    }
  });
}
