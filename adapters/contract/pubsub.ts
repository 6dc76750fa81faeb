/** Contract section: publish and routed subscriptions. */
import type { Message } from "gmq";
import { expect, it } from "vitest";
import { type ContractContext, tally, uniqueTopic, waitFor } from "./context.js";

export function pubsubSection(ctx: ContractContext): void {
  const { caps, options, client } = ctx;
  // Routed subscriptions, or streams that are topic subscriptions (`topicStreams`, e.g. the gmq
  // hub's one stream per subscribe): publishes reach them either way.
  const canSubscribe =
    caps.inbound === "routed" || (caps.inbound === "stream" && options.topicStreams === true);

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
      await ctx.harness.dropConnections!();
      await reconnected;
      await new Promise((r) => setTimeout(r, 100));
      await c.publish(topic, 7);
      await waitFor(() => got.includes(7), 10_000, "a message after reconnect");
    });
  }

  if (canSubscribe && options.faults?.setOnline) {
    it("queues publishes while offline and delivers them in order, exactly once, after reconnect", async () => {
      const setOnline = ctx.harness.setOnline!;
      const topic = uniqueTopic("offline");
      const receiver = client();
      const got: number[] = [];
      await receiver.subscribe<number>(topic, (m) => {
        got.push(m.data);
      }).ready;
      // The sender flushes only once the receiver has resubscribed (like a persistent session
      // would guarantee); otherwise the broker rightly drops messages nobody is subscribed to.
      const sender = client({ onConnect: () => waitFor(() => receiver.state === "connected") });
      options.onScenario?.(() => ({
        scenario: `offline, then back (${ctx.name})`,
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
}
