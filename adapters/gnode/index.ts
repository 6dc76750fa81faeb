/**
 * gmq/gnode — the gmq queue node ("gnode", wuzhc/gmq v2.0) over its TCP protocol (Node.js).
 *
 *   const client = createClient({
 *     transport: gnode({ nodes: { tcp: "127.0.0.1:9503", http: "http://127.0.0.1:9504" } }),
 *   });
 *   await client.publish("jobs", job, { routeKey: "email", delayMs: 10_000 });     // pub
 *   client.subscribe("jobs", handle, { queue: "email", ack: "manual" });            // pop loop
 *   client.subscribe("dead/jobs", inspect, { queue: "email" });                    // dead letters
 *   client.subscribe("channel/news", show); await client.publish("channel/news", n); // pub/sub
 *
 * Everything `gmq/gnode-http` says about queues, route keys, TTR and dead letters holds here too;
 * TCP adds pipelined publishes (the outbox's batches of up to 1000 as `pub`s back to back),
 * heartbeats on blocked pops, dead-letter reads and channels. Each node's HTTP address is needed
 * too, for `/config`.
 */
export { GNODE_REASONS, type GnodeReason } from "../gnode-http/reasons.js";
export type { GnodeCommonOptions, GnodeTopicOptions } from "../gnode-http/settings.js";
export { type EtcdNodesOptions, etcdNodes } from "./etcd.js";
export type { GnodeNode } from "./tcp-node.js";
export { type GnodeOptions, gnode } from "./transport.js";
