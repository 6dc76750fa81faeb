/**
 * `gnodeHttp`: the gmq node's HTTP API as a request-only transport with pop-loop streams.
 *
 * Consuming over HTTP is hard (spec §2, §7.1 #9): `/pop` blocks with no timeout, and a `/pop` the
 * client gave up on still takes the next message. So:
 * - every topic is configured with manual ack on the node (`isAutoAck=0`), whatever the
 *   subscription's `ack` mode (in `auto` the adapter acks once the handler settles): a delivery
 *   that never reaches the app comes back after the topic's TTR, with `retry_count + 1`;
 * - a pop loop fetches only while its subscription has credit, and never cancels a `/pop` it has
 *   sent: when the subscription ends (unsubscribe, restart), the outstanding `/pop` is left to
 *   finish, and whatever it takes is given back at once (pushed again to the same queue on the
 *   same node, then acked) instead of waiting out the TTR;
 * - to end such a `/pop` soon, the adapter pushes a wake-up body (`{"gmq":1,"wake":1}`) to the
 *   same queue; whichever gmq consumer pops it acks and drops it;
 * - closing the transport waits up to `closeGraceMs` for those `/pop`s, then aborts them (the
 *   process or page must be free to go); a message one of them still takes comes back after the
 *   TTR. A page that unloads mid-pop is in the same case. Only a `/pop` sent with an abort signal
 *   can be aborted, and Node's fetch costs some 5% more per request with one: a `/pop` sent right
 *   after one that came back at once (the queue has more) goes without, and if it waits after all
 *   it is woken within 1 s, so that the next one carries a signal again.
 */
import { GmqError, type Transport } from "gmq";
import { onSomeNode } from "./cluster.js";
import { creditGate } from "./credit.js";
import { type Delivery, decodeDelivery, WAKE } from "./envelope.js";
import { baseUrl, closeAll, fetchOf, type HttpIo, type HttpNode, httpNode } from "./http-node.js";
import { checkName, nameProblem, wireName } from "./names.js";
import { openOnNodes, sleep } from "./node-streams.js";
import { isQueueMissing, noop } from "./reasons.js";
import {
  checkQueueMessage,
  type GnodeCommonOptions,
  integer,
  prepareQueueMessage,
  resolveCommon,
  weightOf,
} from "./settings.js";

export interface GnodeHttpNode {
  /** The node's HTTP address, e.g. `http://127.0.0.1:9504`, or a same-origin proxy path. */
  readonly url: string;
  /** Share of the publishes (§5 weighted choice). Default 1. */
  readonly weight?: number | string;
}

export interface GnodeHttpOptions extends GnodeCommonOptions {
  /** One node (its URL), or several (no replication: publishes are spread by weight, consumers
   *  pop on all of them). */
  url: string | readonly (string | GnodeHttpNode)[];
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** How long closing waits for `/pop`s under way to be woken and given back. Default 2000 ms. */
  closeGraceMs?: number;
  /** A `/pop` idle this long is woken (a wake-up body pushed to its queue) and sent again, so no
   *  client or proxy timeout ever abandons one (Node's fetch gives up after 300 s, nginx after
   *  60 s by default). Default 50,000 ms. */
  popRefreshMs?: number;
}

/** The node reads an urlencoded `/push` of at most 10 MiB: a body of 3 MiB stays under it once
 *  escaped for JSON and urlencoded (all but the most escape-heavy payloads). */
const MAX_HTTP_BODY = 3 * 1024 * 1024;

export function gnodeHttp(options: GnodeHttpOptions): Transport {
  const common = resolveCommon(options, MAX_HTTP_BODY);
  const { slashAsDot, random, retryMs } = common;
  const specs = [options.url].flat();
  if (specs.length === 0) throw GmqError.invalid("url", "must list a node");
  const io: HttpIo = { fetch: fetchOf(options.fetch), waits: new Set() };
  const nodes = specs.map((spec: string | GnodeHttpNode, i) => {
    const { url, weight } = typeof spec === "string" ? { url: spec } : (spec ?? ({} as GnodeHttpNode));
    return httpNode(io, baseUrl(url, `url.${i}`), weightOf(weight, `url.${i}.weight`), common.topic);
  });
  const closeGraceMs = integer(options.closeGraceMs, "closeGraceMs", 0, 600_000, 2000);
  const refreshMs = integer(options.popRefreshMs, "popRefreshMs", 1, 3_600_000, 50_000);
  /** How long a /pop sent without a signal may wait before it is woken (see the pop loop). */
  const quickMs = Math.min(refreshMs, 1000);
  /** `/pop`s nobody waits for any more, until they are over and what they took is given back. */
  const abandoned = new Set<Promise<unknown>>();
  const rule = (name: string) => nameProblem(wireName(name, slashAsDot));

  return {
    name: "gnode-http",
    capabilities: {
      connection: "request",
      inbound: "stream",
      wildcards: false,
      requestReply: false,
      ack: true,
      delay: true,
      binary: true,
      queues: true,
      headers: true,
      retain: false,
      routeKeys: true,
    },
    naming: { topic: rule, pattern: rule },
    checkPublish: (message) => void checkQueueMessage(common, message, false),

    async publish(message) {
      const { topic, settings, routeKey, delay, body } = prepareQueueMessage(common, message, false);
      const data = JSON.stringify({ topic, route_key: routeKey, body, delay });
      await onSomeNode(nodes, random, retryMs, async (node) => {
        // A restarted node may have dropped its empty queues: declare them again, once.
        for (let again = settings.queues.size > 0; ; again = false) {
          await node.setup.ensure(topic, settings.queues);
          try {
            return await node.push(data);
          } catch (error) {
            if (!again || (error as GmqError)?.reason !== "NO_MATCHING_QUEUE") throw error;
            node.setup.reset();
          }
        }
      });
    },

    async subscribe(request, { signal, sink, flow }) {
      const topic = checkName(request.pattern, "pattern", slashAsDot);
      const bindKey = checkName(request.queue ?? "default", "queue", slashAsDot);
      const { queues, routing } = common.topic(topic);
      queues.add(bindKey);
      const gate = creditGate(flow);
      // Gives a body back to this bind key only (bind keys hold no regex syntax but `.`).
      const routeKey = routing === "exact" ? bindKey : `^${bindKey.replaceAll(".", "\\.")}$`;
      const push = (node: HttpNode, body: string) =>
        node.push(JSON.stringify({ topic, route_key: routeKey, body, delay: 0 }));
      const wake = (node: HttpNode) => void push(node, WAKE).catch(noop);
      const ack = (node: HttpNode, id: string) => node.ack(id, topic, bindKey);

      const popLoop = async (node: HttpNode): Promise<void> => {
        /** When the /pop under way was sent (0: none): one timer per loop wakes it when idle. */
        let since = 0;
        /** The last /pop came back at once: the queue has more, the next one goes without a signal. */
        let bare = false;
        /** Stops waiting for the /pop under way (the subscription ended). One abort listener per
         *  loop, not a `Promise.race` with an "ended" promise per /pop: each race would leave a
         *  reaction on that promise until the subscription ends (half a KB per message consumed). */
        let stopWaiting: (() => void) | undefined;
        const onAbort = () => stopWaiting?.();
        signal.addEventListener("abort", onAbort);
        const refresh = setInterval(() => {
          if (since > 0 && Date.now() - since >= (bare ? quickMs : refreshMs)) {
            since = Date.now();
            wake(node);
          }
        }, quickMs / 4);
        try {
          while (!signal.aborted) {
            try {
              await gate.take(signal);
            } catch {
              return;
            }
            try {
              // Only a signal lets closing abort a /pop; Node's fetch costs some 5% more with one.
              // A /pop sent while the queue has more goes without, and is woken if it waits.
              const abort = bare ? undefined : new AbortController();
              // Not tied to `signal`: an abandoned /pop would still take a message on the node.
              const popping = node.pop(topic, bindKey, abort?.signal);
              if (abort) {
                const stop = (error: GmqError) => abort.abort(error);
                const drop = () => io.waits.delete(stop);
                io.waits.add(stop);
                popping.then(drop, drop);
              }
              since = Date.now();
              const d = await new Promise<Delivery | undefined>((resolve, reject) => {
                stopWaiting = () => resolve(undefined);
                if (signal.aborted) resolve(undefined);
                popping.then(resolve, reject);
              });
              stopWaiting = undefined;
              bare = Date.now() - since < 5;
              if (!d) {
                // Nobody will handle what this /pop takes: wake it, and give that back at once.
                const done: Promise<unknown> = popping
                  .then(async (d) => {
                    if (d.body !== WAKE) await push(node, d.body);
                    await ack(node, d.id);
                  })
                  .catch(noop)
                  .then(() => void abandoned.delete(done));
                abandoned.add(done);
                return wake(node);
              }
              if (d.body === WAKE) await ack(node, d.id).catch(noop);
              else sink.message(decodeDelivery(request.pattern, d, () => ack(node, d.id)));
            } catch (error) {
              // The node may have restarted (and dropped the empty queue): set up again.
              node.setup.reset();
              if (!isQueueMissing(error)) throw error;
              await node.setup.ensure(topic, queues);
            } finally {
              since = 0;
              gate.done();
            }
          }
        } finally {
          clearInterval(refresh);
          signal.removeEventListener("abort", onAbort);
        }
      };
      await openOnNodes(
        nodes,
        signal,
        sink,
        retryMs,
        async (node) => node.setup.ensure(topic, queues),
        popLoop,
      );
    },

    async disconnect() {
      const grace = new AbortController();
      if (abandoned.size > 0) await Promise.race([Promise.all(abandoned), sleep(closeGraceMs, grace.signal)]);
      grace.abort();
      closeAll(io, new GmqError("closed", "closed"));
    },
  };
}
