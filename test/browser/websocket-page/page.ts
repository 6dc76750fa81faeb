/**
 * A bare page for the `gmq/websocket` browser tests: a gmq client on the hub with the IndexedDB
 * store (outbox and stream positions), driven from the test through `window.ws`.
 */
import { createClient, type PublishResult } from "gmq";
import { indexedDbStore } from "gmq/store-indexeddb";
import { websocket } from "gmq/websocket";

const params = new URLSearchParams(location.search);
const client = createClient({
  transport: websocket({ url: params.get("url")! }),
  store: indexedDbStore({ name: params.get("store") ?? "websocket-test" }),
  reconnect: { initialDelayMs: 50, maxDelayMs: 300 },
});
client.on("error", () => {});

const got: Record<string, unknown[]> = {};
const recovered: Record<string, (boolean | null)[]> = {};

const api = {
  state: () => client.state,
  stats: () => client.outboxStats(),
  got: (topic: string) => got[topic] ?? [],
  recovered: (topic: string) => recovered[topic] ?? [],
  publish: (topic: string, values: unknown[]): Promise<PublishResult[]> =>
    Promise.all(values.map((value) => client.publish(topic, value))),
  subscribe: async (topic: string): Promise<void> => {
    got[topic] ??= [];
    recovered[topic] ??= [];
    const sub = client.subscribe(topic, (message) => void got[topic]!.push(message.data));
    sub.on("state", (change) => {
      if (change.to === "subscribed") recovered[topic]!.push(change.recovered ?? null);
    });
    await sub.ready;
  },
  handle: async (service: string, method: string): Promise<void> => {
    client.handle(service, method, (args: { n: number }) => ({ doubled: args.n * 2, by: "page" }));
    await client.connect();
  },
  call: (service: string, method: string, args: unknown) =>
    client.call(service, method, args, { timeoutMs: 5_000 }),
};
(window as unknown as { ws: typeof api }).ws = api;
document.title = "ready";
