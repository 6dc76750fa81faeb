/**
 * A small Node service on gmq — the shape a backend team would copy:
 * - serves calls with `handle` (Orders.create); on a broker with shared subscriptions (MQTT 5:
 *   Mosquitto, EMQX, HiveMQ) pass `{ queue: "orders" }` to load-balance several instances;
 * - publishes events at least once through a durable outbox in a file, so an event accepted by
 *   `publish` survives a broker outage, a crash or a restart (receivers drop redeliveries by id);
 * - consumes commands with manual ack, so a command it did not finish is redelivered;
 * - shuts down cleanly on SIGINT/SIGTERM.
 *
 *   npx tsx examples/node-service/service.ts [mqtt://broker:1883]   (default: an embedded broker)
 */
import { createClient, type Message } from "gmq";
import { mqtt } from "gmq/mqtt";
import { fileStore } from "gmq/store-file";
import { startBroker } from "gmq/testing";

interface Order {
  id: string;
  item: string;
  quantity: number;
}

const embedded = process.argv[2] ? undefined : await startBroker();
const url = process.argv[2] ?? embedded!.tcpUrl;

const client = createClient({
  // envelope: gmq ids and replies also work on MQTT 3.1.1 brokers (the embedded one is 3.1.1).
  transport: mqtt({ url, envelope: true, clientId: "orders-service", clean: false }),
  store: fileStore({ path: process.env.OUTBOX ?? "orders-outbox.log" }),
});
client.on("state", ({ to, reason }) => console.log(`[orders] ${to} (${reason})`));
let waiting = 0;
client.on("outbox", ({ count }) => {
  if (count > waiting) console.log(`[orders] ${count} event(s) waiting for the broker`);
  waiting = count;
});
client.on("dropped", (event) => console.warn(`[orders] dropped ${event.id}: ${event.reason}`));
client.on("error", (error) => console.warn(`[orders] ${error.code}: ${error.message}`));

const orders = new Map<string, Order>();
let nextId = 1;

client.handle("Orders", "create", async ({ item, quantity }: { item: string; quantity: number }) => {
  if (typeof item !== "string" || !Number.isInteger(quantity) || quantity < 1) {
    throw new Error("item must be a string and quantity a positive integer");
  }
  const order = { id: `o${nextId++}`, item, quantity };
  orders.set(order.id, order);
  // Durable: resolves once the broker has it, or once it is fsync'd in the outbox.
  const { status } = await client.publish(`orders/${order.id}/created`, order, { qos: 1 });
  console.log(`[orders] created ${order.id} (event ${status})`);
  return order;
});

client.subscribe<{ reason?: string }>(
  "orders/+/cancel",
  async (message: Message<{ reason?: string }>) => {
    const id = message.topic.split("/")[1]!;
    if (!orders.delete(id)) return message.ack(); // unknown order: nothing to redo
    await client.publish(`orders/${id}/cancelled`, { id, reason: message.data.reason ?? "" });
    await message.ack(); // only now may the broker forget the command
  },
  { ack: "manual" },
);

await client.connect({ timeoutMs: 10_000 });
console.log(`[orders] serving Orders.create on ${url}`);

if (process.env.DEMO !== "0") {
  // Show it working: a caller in the same process.
  const caller = createClient({ transport: mqtt({ url, envelope: true }) });
  const created = await caller.call<Order>(
    "Orders",
    "create",
    { item: "tea", quantity: 2 },
    { timeoutMs: 5_000 },
  );
  console.log("[caller] got", created);
  await caller.close();
}

const shutdown = async () => {
  await client.close(); // queued events stay in the file for the next start
  await embedded?.close();
  process.exit(0);
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
if (process.env.EXIT_AFTER_DEMO === "1") await shutdown();
