/** Contract section: streams (server streams, pop loops) with flow control and restarts. */
import type { Message, SubscriptionStateChange } from "gmq";
import { expect, it } from "vitest";
import { type ContractContext, sleep, waitFor } from "./context.js";

export function streamSection(ctx: ContractContext): void {
  const { caps, options, client } = ctx;
  const stream = options.stream;
  if (!stream) throw new Error(`contract: a stream transport needs the \`stream\` option`);
  const subscribe = (c: ReturnType<typeof client>, handler: (m: Message<unknown>) => unknown, extra = {}) =>
    c.subscribe(stream.pattern, handler, {
      ...(stream.args !== undefined && { args: stream.args }),
      ...extra,
    });

  it("a stream delivers what the backend sends, in order, once", async () => {
    const c = client();
    const got: unknown[] = [];
    const sub = subscribe(c, (m) => void got.push(m.data));
    await sub.ready;
    const values = Array.from({ length: 30 }, (_, i) => ({ n: i }));
    await stream.feed(values);
    await waitFor(() => got.length >= values.length, 10_000, "30 messages");
    await sleep(100);
    expect(got).toEqual(values);
  });

  if (options.faults?.endStreams) {
    it("a stream that ends is restarted, and the subscription says why", async () => {
      const c = client();
      const got: unknown[] = [];
      const changes: SubscriptionStateChange[] = [];
      const sub = subscribe(c, (m) => void got.push(m.data));
      sub.on("state", (change) => changes.push(change));
      await sub.ready;
      await ctx.harness.endStreams!();
      await waitFor(() => changes.some((change) => change.to === "subscribing"), 5_000, "the restart");
      await waitFor(() => sub.state === "subscribed", 10_000, "the stream to come back");
      expect(changes.find((change) => change.to === "subscribing")?.error).toBeDefined();
      await stream.feed([{ after: true }]);
      await waitFor(() => got.length === 1, 10_000, "a message on the restarted stream");
      expect(got).toEqual([{ after: true }]);
    });
  }

  if (caps.ack) {
    it("a pull stream never hands over more than `maxBuffered` unsettled messages, and loses none", async () => {
      const c = client();
      const held: Message<unknown>[] = [];
      let most = 0;
      let seen = 0;
      const sub = subscribe(
        c,
        (m) => {
          held.push(m);
          seen++;
          most = Math.max(most, held.length);
        },
        { ack: "manual", maxBuffered: 3 },
      );
      await sub.ready;
      const values = Array.from({ length: 12 }, (_, i) => ({ n: i }));
      await stream.feed(values);
      while (seen < values.length) {
        await waitFor(() => held.length === 3 || seen === values.length, 10_000, "a full buffer");
        await sleep(50); // room for an adapter that would overfetch to show it
        expect(held.length).toBeLessThanOrEqual(3);
        for (const message of held.splice(0)) await message.ack();
      }
      expect(most).toBe(3);
      expect(seen).toBe(values.length);
    });
  }
}
