/**
 * A job worker on the gmq node over TCP (`gmq/gnode`): delayed jobs ("remind me in 10 s"),
 * handled with manual ack, failures retried by the node (an unacked job comes back after the
 * topic's TTR with `deliveryCount` one higher), and jobs that keep failing read from the
 * dead-letter queue. Runs against an embedded gnode emulator, or a real node:
 *
 *   npx tsx examples/jobs/worker.ts
 *   GNODE_TCP=127.0.0.1:9503 GNODE_HTTP=http://127.0.0.1:9504 npx tsx examples/jobs/worker.ts
 */
import { createClient } from "gmq";
import { gnode } from "gmq/gnode";
import { startGnode } from "gmq/testing";

interface Job {
  kind: "remind" | "flaky" | "broken";
  text: string;
}

const started = Date.now();
const log = (line: string) =>
  console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s  ${line}`);

const embedded = process.env.GNODE_TCP ? undefined : await startGnode();
const node = embedded
  ? { tcp: `127.0.0.1:${embedded.tcpPort}`, http: embedded.httpUrl }
  : { tcp: process.env.GNODE_TCP!, http: process.env.GNODE_HTTP ?? "http://127.0.0.1:9504" };
log(embedded ? `embedded gnode emulator on ${node.tcp} (HTTP ${node.http})` : `gnode at ${node.tcp}`);

const client = createClient({
  transport: gnode({
    nodes: node,
    // A failed job is retried after 2 s, and dead-lettered after 2 retries.
    topics: { jobs: { queues: ["reminders"], msgTTR: 2, msgRetry: 2 } },
  }),
});
client.on("error", (error) => log(`error: ${error.message}`));

let left = 4;
let allDone!: () => void;
const finished = new Promise<void>((resolve) => {
  allDone = resolve;
});
const done = (): void => {
  if (--left === 0) allDone();
};

// The worker: manual ack; a job that is not acked (here: nacked) comes back after the TTR.
client.subscribe<Job>(
  "jobs",
  async (m) => {
    const job = m.data;
    const attempt = (m.deliveryCount ?? 0) + 1;
    if (job.kind === "broken" || (job.kind === "flaky" && attempt === 1)) {
      log(`✗ ${job.text} (attempt ${attempt}): failed, the node retries it after the TTR`);
      return m.nack({ requeue: true });
    }
    log(`✓ ${job.text} (attempt ${attempt})`);
    await m.ack();
    done();
  },
  { queue: "reminders", ack: "manual" },
);

// Jobs that failed every retry land in the dead-letter queue (reading one removes it).
client.subscribe<Job>(
  "dead/jobs",
  (m) => {
    log(`☠ dead letter after ${m.deliveryCount} deliveries: ${m.data.text}`);
    done();
  },
  { queue: "reminders" },
);

const schedule = (job: Job, delayMs = 0) =>
  client.publish("jobs", job, { routeKey: "reminders", ...(delayMs > 0 && { delayMs }) });
await schedule({ kind: "remind", text: "remind me in 10 s: stretch" }, 10_000);
await schedule({ kind: "remind", text: "remind me in 3 s: drink water" }, 3_000);
await schedule({ kind: "flaky", text: "send the invoice (fails once)" });
await schedule({ kind: "broken", text: "call a dead webhook (always fails)" });
log("scheduled 4 jobs");

await finished;
log("all jobs handled");
await client.close();
await embedded?.close();
