/**
 * gmq/gnode-http in a page, reaching the node through a same-origin proxy at `/gnode` (a real
 * node sends no CORS headers): publish JSON and bytes with a route key, pop them with manual ack,
 * then leave a pop mid-flight by unsubscribing and close.
 */
import { createClient } from "gmq";
import { gnodeHttp } from "gmq/gnode-http";

const client = createClient({
  transport: gnodeHttp({ url: "/gnode", topics: { page: { queues: ["inbox"] } } }),
});
const got: {
  data: unknown;
  id: string | undefined;
  gnodeId: string | undefined;
  count: number | undefined;
}[] = [];
const bytes: number[][] = [];
const sub = client.subscribe(
  "page",
  (m) => {
    if (m.payload[0] === 0) bytes.push([...m.payload]);
    else got.push({ data: m.data, id: m.id, gnodeId: m.headers["gnode-id"], count: m.deliveryCount });
    return m.ack();
  },
  { queue: "inbox", ack: "manual" },
);
await sub.ready;
const sent: string[] = [];
for (const n of [1, 2, 3]) sent.push((await client.publish("page", { n }, { routeKey: "inbox" })).id);
await client.publish("page", new Uint8Array([0, 255, 128, 10]), { routeKey: "inbox", delayMs: 0 });
while (got.length + bytes.length < 4) await new Promise((resolve) => setTimeout(resolve, 20));
await sub.unsubscribe(); // its /pop is under way: woken and given back, not left on the node
await client.close();
(window as unknown as { result: unknown }).result = { got, bytes, sent, state: client.state };
document.title = "ready";
