/** Imports `gmq/testing` as a browser bundle gets it, and runs pub/sub and a call on it. */
import { createClient } from "gmq";
import { createMemoryBroker } from "gmq/testing";

const broker = createMemoryBroker();
const server = createClient({ transport: broker.transport() });
const client = createClient({ transport: broker.transport() });
server.handle("Math", "add", ({ a, b }: { a: number; b: number }) => a + b);
const heard = new Promise<unknown>((resolve) => {
  server
    .subscribe("news/+", (message) => resolve(message.data))
    .ready.then(() => client.publish("news/today", "hi"));
});
const result = { sum: await client.call("Math", "add", { a: 2, b: 3 }), heard: await heard };
(window as unknown as { result: unknown }).result = result;
document.title = "ready";
