// The clients bench/gnode.mjs and bench/ab-gnode.mjs measure: gmq's producer/consumer pair, and
// the hand-written `fetch` loop of the gmq node's HTTP API.
import { pollUntil } from "./mqtt-support.mjs";

let topics = 0;
/** A topic no earlier round used. */
export const nextTopic = () => `bench-${++topics}`;

/** Resolves once `count()` reaches `n` (checked every millisecond); a round stuck for a minute
 *  fails instead of hanging the bench. */
export const untilCount = (count, n) => pollUntil(() => count() >= n, 60_000, `${n} acks`);

/**
 * gmq's side: a producer and a consumer client (made by `createClient` over `transport()`) that
 * live for the whole run, as an app's do, on one topic; each round publishes `n` copies of `value`
 * and resolves with the rate (msg/s) once their `n` acks are answered. `fresh` makes a new pair
 * for every round instead. `run.close()` closes the pair.
 */
export function gmqClients({ createClient, transport, subscribeOptions, value, fresh = false }) {
  let pair;
  const open = async () => {
    const topic = nextTopic();
    const consumer = createClient({ transport: transport() });
    const producer = createClient({ transport: transport() });
    const counts = { acked: 0 };
    await consumer.subscribe(topic, (m) => m.ack().then(() => counts.acked++), subscribeOptions).ready;
    await producer.publish(topic, value); // sets the topic up before the first round
    await untilCount(() => counts.acked, 1);
    return { topic, consumer, producer, counts };
  };
  const run = async (n) => {
    pair ??= await open();
    const { topic, producer, counts } = pair;
    counts.acked = 0;
    const started = performance.now();
    for (let i = 0; i < n; i++) void producer.publish(topic, value);
    await untilCount(() => counts.acked, n);
    const rate = (n / (performance.now() - started)) * 1000;
    if (fresh) await run.close();
    return rate;
  };
  run.close = async () => {
    if (pair) await Promise.all([pair.producer.close(), pair.consumer.close()]);
    pair = undefined;
  };
  return run;
}

/**
 * The hand-written HTTP client: a fresh topic each round (set up before the clock starts),
 * sequential `/push` with the body gmq sends, sequential `/pop`, `/ack` fired without waiting.
 * Resolves with the rate (msg/s).
 */
export function fetchLoop({ url, value, fetch = globalThis.fetch }) {
  return async (n) => {
    const topic = nextTopic();
    const get = (path, params) => fetch(`${url}${path}?${new URLSearchParams(params)}`).then((r) => r.json());
    await get("/config", { topic, isAutoAck: "0", mode: "1", msgTTR: "0", msgRetry: "0" });
    await get("/declareQueue", { topic, bindKey: "default" });
    let acked = 0;
    let popped = 0;
    const consume = async () => {
      while (popped < n) {
        const { data } = await get("/pop", { topic, bindKey: "default" });
        popped++;
        JSON.parse(data.body);
        void get("/ack", { msgId: data.id, topic, bindKey: "default" }).then(() => acked++);
      }
    };
    const started = performance.now();
    const consuming = consume();
    for (let i = 0; i < n; i++) {
      // The same body the adapter sends: a gmq-style envelope with an id.
      const body = `{"gmq":1,"id":"m${i}","t":${JSON.stringify(JSON.stringify(value))}}`;
      const data = JSON.stringify({ topic, route_key: "", body, delay: 0 });
      await fetch(`${url}/push`, { method: "POST", body: new URLSearchParams({ data }) }).then((r) =>
        r.json(),
      );
    }
    await consuming;
    await untilCount(() => acked, n);
    return (n / (performance.now() - started)) * 1000;
  };
}
