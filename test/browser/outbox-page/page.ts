/**
 * A bare page for the durable-outbox browser tests: a gmq client over MQTT (WebSocket) with the
 * IndexedDB store, driven from the test through `window.outbox`.
 */
import { createClient, type PublishResult } from "gmq";
import { mqtt } from "gmq/mqtt";
import { indexedDbStore } from "gmq/store-indexeddb";

const params = new URLSearchParams(location.search);
const store = indexedDbStore({ name: params.get("store") ?? "outbox-test" });
const client = createClient({
  transport: mqtt({ url: params.get("url")!, envelope: true, protocolVersion: 4 }),
  store,
  reconnect: { initialDelayMs: 50, maxDelayMs: 300 },
});
client.on("error", () => {});

const api = {
  state: () => client.state,
  stats: () => client.outboxStats(),
  shared: () => store.shared !== undefined,
  publish: (topic: string, values: number[]): Promise<PublishResult[]> =>
    Promise.all(values.map((value) => client.publish(topic, { value, tab: params.get("tab") }))),
};
(window as unknown as { outbox: typeof api }).outbox = api;
document.title = "ready";
