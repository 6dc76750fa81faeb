/** A gmq client over the request-only fetch adapter: `npx tsx examples/custom-adapter/main-fetch.ts` */
import { createClient } from "gmq";
import { fetchTransport } from "./fetch-transport.js";
import { startRpcServer } from "./rpc-server.js";

const server = await startRpcServer({
  "Math/add": (args) => (args as { a: number; b: number }).a + (args as { b: number }).b,
});
const client = createClient({ transport: fetchTransport({ url: server.url }) });

console.log(await client.call("Math", "add", { a: 1, b: 2 })); // 3, and the state is now "connected"
await server.stop(); // the server goes away: publishes wait in the outbox
console.log((await client.publish("audit/log", { event: "offline write" })).status); // queued
await server.start(); // back: the outbox flushes on the next retry
await new Promise((resolve) => setTimeout(resolve, 1_000));
console.log(server.published("audit/log")); // [ { event: 'offline write' } ]

await client.close();
await server.close();
