/** Contract section: request-only transports (no connection to keep). */
import { GmqError, type StateChange } from "gmq";
import { expect, it } from "vitest";
import { type ContractContext, tally, uniqueTopic, waitFor } from "./context.js";

export function requestOnlySection(ctx: ContractContext): void {
  const { options, client } = ctx;
  const topicFor = (base: string) => options.names?.topic ?? uniqueTopic(base);

  it("is usable at once: connect() sends nothing, and the first answer makes it connected", async () => {
    const c = client({ autoConnect: false });
    const states: string[] = [];
    c.on("state", (change) => states.push(change.to));
    await c.connect({ timeoutMs: 5_000 });
    expect(c.state).toBe("connecting");
    expect((await c.publish(topicFor("first"), { n: 1 })).status).toBe("sent");
    expect(c.state).toBe("connected");
    expect(states).toEqual(["connecting", "connected"]);
  });

  if (options.faults?.setOnline) {
    it("a network failure is `disconnected` with its cause, nothing waits for a timeout, and the outbox flushes in order on return", async () => {
      const setOnline = ctx.harness.setOnline!;
      const topic = topicFor("offline");
      const c = client();
      const sentValues = [-1, ...Array.from({ length: 20 }, (_, i) => i)];
      let arrived: unknown[] = [];
      options.onScenario?.(() => ({
        scenario: `request-only backend unreachable, then back (${ctx.name})`,
        injected: "the server stops; 20 messages are published into the outbox; it starts again",
        ...tally(sentValues, arrived),
      }));
      const changes: StateChange[] = [];
      c.on("state", (change) => changes.push(change));
      expect((await c.publish(topic, -1)).status).toBe("sent");
      await setOnline(false);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => c.publish(topic, i)));
      expect(results.every((r) => r.status === "queued")).toBe(true);
      await waitFor(() => c.state === "disconnected", 5_000, "the disconnected state");
      const down = changes.find((change) => change.to === "disconnected")!;
      expect(down.error?.code).toBe("disconnected");
      const started = Date.now();
      const qos0 = await c.publish(topic, "now or never", { qos: 0 }).catch((e) => e);
      expect((qos0 as GmqError).code).toBe("disconnected");
      if (ctx.caps.requestReply) {
        const call = await c
          .call(options.names?.service ?? "Svc", options.names?.method ?? "m", {}, { timeoutMs: 10_000 })
          .catch((e) => e);
        expect(GmqError.is(call) && call.code).toBe("disconnected");
      }
      expect(Date.now() - started).toBeLessThan(1_000);
      await setOnline(true);
      await waitFor(() => c.outboxStats().count === 0, 15_000, "an empty outbox");
      expect(c.state).toBe("connected");
      if (ctx.harness.received) {
        arrived = (await ctx.harness.received(topic)).filter((value) => typeof value === "number");
        expect(arrived).toEqual(sentValues);
      }
    });
  }
}
