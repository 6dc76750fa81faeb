/** Two gmq clients talking over the BroadcastChannel adapter: `npx tsx examples/custom-adapter/main.ts` */
import { createClient } from "gmq";
import { broadcastChannelTransport } from "./broadcast-channel-transport.js";

const alice = createClient({ transport: broadcastChannelTransport({ name: "demo" }) });
const bob = createClient({ transport: broadcastChannelTransport({ name: "demo" }) });

bob.handle("Greeter", "hello", (name: string) => `hello, ${name}`);
const heard = new Promise<string>((resolve) => {
  bob.subscribe<string>("news/+", (message) => resolve(`${message.topic}: ${message.data}`));
});
await Promise.all([alice.connect(), bob.connect()]);

console.log(await alice.call("Greeter", "hello", "alice")); // hello, alice
await alice.publish("news/today", "adapters are easy");
console.log(await heard); // news/today: adapters are easy

await Promise.all([alice.close(), bob.close()]);
