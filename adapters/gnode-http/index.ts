/**
 * gmq/gnode-http — the gmq queue node ("gnode", wuzhc/gmq v2.0) over its HTTP API, from a browser
 * or Node: request-only, with subscriptions as pop loops.
 *
 *   const client = createClient({
 *     transport: gnodeHttp({ url: "http://127.0.0.1:9504", topics: { jobs: { queues: ["email"], msgTTR: 10 } } }),
 *   });
 *   await client.publish("jobs", { to: "a@b.c" }, { routeKey: "email", delayMs: 10_000 });
 *   client.subscribe("jobs", async (m) => { await send(m.data); await m.ack(); }, { queue: "email", ack: "manual" });
 *
 * - A subscription's `queue` is the bind key (default `default`); consumers of one bind key compete.
 * - `routeKey` picks the queues: in `exact` topics (default) it names a bind key, in `regex`
 *   topics it is an RE2 pattern and every matching queue gets a copy. No route key: `default`.
 * - Manual ack is always on at the node; an unacked delivery comes back after the TTR with
 *   `deliveryCount` (the node's `retry_count`) one higher, and goes to the dead-letter queue after
 *   `msgRetry` redeliveries. `nack({ requeue: true })` waits for that; `requeue: false` acks.
 * - Browsers: a real node sends no CORS headers. Serve the page and proxy `/gnode/*` to the node
 *   from one origin (the proxy should answer OPTIONS itself), and pass `url: "/gnode"`.
 * - Dead letters and pub/sub channels need the TCP protocol: `gmq/gnode`.
 */
export { type GnodeAdmin, type GnodeTopicConfig, type GnodeTopicStat, gnodeAdmin } from "./admin.js";
export { MAX_DELAY_S, type Routing } from "./names.js";
export { GNODE_REASONS, type GnodeReason } from "./reasons.js";
export type { GnodeCommonOptions, GnodeTopicOptions } from "./settings.js";
export { type GnodeHttpNode, type GnodeHttpOptions, gnodeHttp } from "./transport.js";
