/** Contract section: connecting and argument checks, for every transport. */
import { GmqError } from "gmq";
import { expect, it } from "vitest";
import type { ContractContext } from "./context.js";

export function basicSection(ctx: ContractContext): void {
  const { caps, options, client } = ctx;
  const canCall = caps.requestReply || (caps.inbound === "routed" && caps.headers);
  const canServe = caps.serve === true || (caps.inbound === "routed" && caps.headers);

  if (caps.connection === "link") {
    it("connects and reports connecting -> connected", async () => {
      const c = client({ autoConnect: false });
      const states: string[] = [];
      c.on("state", (change) => states.push(change.to));
      await c.connect({ timeoutMs: 10_000 });
      expect(c.state).toBe("connected");
      expect(states).toEqual(["connecting", "connected"]);
    });
  }

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
    const topic = options.names?.topic ?? "a";
    const service = options.names?.service ?? "Svc";
    const method = options.names?.method ?? "m";
    expect(await field(() => c.publish("", 1))).toBe("topic");
    expect(await field(() => c.publish("a\u0000b", 1))).toBe("topic");
    expect(await field(() => c.publish(topic, 1, { qos: 3 as 1 }))).toBe("qos");
    expect(await field(() => c.publish(topic, 1, { timeoutMs: -1 }))).toBe("timeoutMs");
    expect(await field(() => c.publish(topic, { big: 1n }))).toBe("payload");
    if (caps.inbound !== "none") expect(await field(() => c.subscribe("", () => {}))).toBe("pattern");
    if (caps.inbound === "routed" || caps.inbound === "push" || options.topicStreams) {
      expect(await field(() => c.subscribe("a/#/b", () => {}))).toBe("pattern");
    }
    expect(await field(() => c.call("", method))).toBe("service");
    expect(await field(() => c.call(service, method, {}, { timeoutMs: Number.NaN }))).toBe("timeoutMs");
  });
  it("refuses what the transport cannot do with unsupported, naming the field", async () => {
    const c = client({ autoConnect: false });
    const topic = options.names?.topic ?? "a";
    const refused = async (work: () => unknown): Promise<string | undefined> => {
      try {
        await work();
      } catch (error) {
        expect(GmqError.is(error)).toBe(true);
        expect((error as GmqError).code).toBe("unsupported");
        return (error as GmqError).field;
      }
      throw new Error("did not refuse");
    };
    if (!caps.retain) expect(await refused(() => c.publish(topic, 1, { retain: true }))).toBe("retain");
    if (!caps.delay) expect(await refused(() => c.publish(topic, 1, { delayMs: 5 }))).toBe("delayMs");
    if (!caps.routeKeys) expect(await refused(() => c.publish(topic, 1, { routeKey: "k" }))).toBe("routeKey");
    if (caps.inbound === "none") expect(await refused(() => c.subscribe("a", () => {}))).toBe("subscribe");
    else {
      if (!caps.queues) expect(await refused(() => c.subscribe("a", () => {}, { queue: "q" }))).toBe("queue");
      if (!caps.ack) expect(await refused(() => c.subscribe("a", () => {}, { ack: "manual" }))).toBe("ack");
    }
    if (!canServe) {
      expect(
        await refused(() => c.handle(options.names?.service ?? "Svc", options.names?.method ?? "m", () => 1)),
      ).toBe("handle");
    }
  });

  it("every abort rejects with `aborted` keeping what was passed to abort() as the cause", async () => {
    const c = client({ autoConnect: false });
    const topic = options.names?.topic ?? "a";
    for (const reason of ["user left", new Error("navigated away")]) {
      const signal = AbortSignal.abort(reason);
      const outcomes: unknown[] = [
        await c.publish(topic, 1, { signal }).catch((e) => e),
        await c.connect({ signal }).catch((e) => e),
      ];
      if (canCall) {
        const service = options.names?.service ?? "Svc";
        outcomes.push(await c.call(service, options.names?.method ?? "m", {}, { signal }).catch((e) => e));
      }
      if (caps.inbound !== "none")
        outcomes.push(await c.subscribe(options.stream?.pattern ?? "a", { signal }).ready.catch((e) => e));
      for (const outcome of outcomes) {
        expect(GmqError.is(outcome)).toBe(true);
        expect((outcome as GmqError).code).toBe("aborted");
        expect((outcome as GmqError).cause).toBe(reason);
      }
    }
  });
}
