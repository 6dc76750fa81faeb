/**
 * Batch publish: on a transport with `publishBatch` the outbox hands over runs of queued
 * messages, and reads one result per message, so a partial failure loses nothing.
 */
import { type Client, createClient, type DroppedEvent, type Transport } from "gmq";
import { waitFor } from "gmq/contract";
import { createMemoryBroker, type MemoryBroker } from "gmq/testing";
import { afterEach, describe, expect, it } from "vitest";

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** A batching transport that records the size of every batch it is handed. */
function batching(broker: MemoryBroker, sizes: number[]): Transport {
  const inner = broker.transport({ maxBatch: 50 });
  const publishBatch = inner.publishBatch!.bind(inner);
  inner.publishBatch = (messages, options) => {
    sizes.push(messages.length);
    return publishBatch(messages, options);
  };
  return inner;
}

async function setup(broker: MemoryBroker, sizes: number[]) {
  const receiver = createClient({ transport: broker.transport() });
  const sender = createClient({
    transport: batching(broker, sizes),
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    // Flush only once the receiver is back (its broker keeps nothing for absent subscribers).
    onConnect: () => waitFor(() => receiver.state === "connected"),
  });
  clients.push(receiver, sender);
  sender.on("error", () => {});
  const got: number[] = [];
  await receiver.subscribe<number>("jobs/#", (m) => void got.push(m.data)).ready;
  await sender.connect();
  return { sender, got };
}

describe("batch publish", () => {
  it("hands queued messages over in runs, in order, each delivered once", async () => {
    const broker = createMemoryBroker();
    const sizes: number[] = [];
    const { sender, got } = await setup(broker, sizes);
    broker.setOnline(false);
    await waitFor(() => sender.state !== "connected", 2_000, "the sender to notice");
    const values = Array.from({ length: 120 }, (_, i) => i);
    const results = await Promise.all(values.map((i) => sender.publish("jobs/a", i)));
    expect(results.every((r) => r.status === "queued")).toBe(true);
    broker.setOnline(true);
    await waitFor(() => got.length === 120, 5_000, "120 messages");
    expect(got).toEqual(values);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(120);
    expect(Math.max(...sizes)).toBe(50);
    expect(sender.outboxStats().count).toBe(0);
  });

  it("gives up only the messages the backend refused, with an event each", async () => {
    const broker = createMemoryBroker();
    const { sender, got } = await setup(broker, []);
    const dropped: DroppedEvent[] = [];
    sender.on("dropped", (event) => dropped.push(event));
    broker.refuse("jobs/bad");
    broker.setOnline(false);
    await waitFor(() => sender.state !== "connected", 2_000, "the sender to notice");
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, (_, i) => sender.publish(i % 10 === 3 ? "jobs/bad" : "jobs/good", i)),
    );
    expect(outcomes.every((r) => r.status === "queued")).toBe(true);
    broker.setOnline(true);
    await waitFor(() => sender.outboxStats().count === 0, 5_000, "an empty outbox");
    await waitFor(() => got.length === 27, 5_000, "27 messages");
    expect(got).toEqual(Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 10 !== 3));
    expect(dropped.map((event) => [event.topic, event.reason, event.error?.code])).toEqual(
      [3, 13, 23].map(() => ["jobs/bad", "rejected", "remote"]),
    );
  });

  it("a batch cut off mid-way loses nothing: the rest is sent again after the reconnect", async () => {
    const broker = createMemoryBroker();
    const { sender, got } = await setup(broker, []);
    broker.setOnline(false);
    await waitFor(() => sender.state !== "connected", 2_000, "the sender to notice");
    broker.cutNextBatch(7);
    const values = Array.from({ length: 40 }, (_, i) => i);
    await Promise.all(values.map((i) => sender.publish("jobs/a", i)));
    broker.setOnline(true);
    await waitFor(() => got.length === 40, 5_000, "40 messages");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(got).toEqual(values);
    expect(sender.outboxStats().count).toBe(0);
  });
});
