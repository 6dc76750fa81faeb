/**
 * The blocking consumers of the TCP adapter, each on a socket of its own (spec §6): a queue's pop
 * loop (with 105 heartbeats: silent for too long means dead), a dead-letter reader (`dead`: no
 * heartbeats, destructive, polled until the dead-letter queue exists), and a channel subscriber
 * (104 frames, paused while the subscription has no credit).
 */
import type { Buffer } from "node:buffer";
import type { FlowControl, InboundMessage, StreamSink } from "gmq";
import type { CreditGate } from "../gnode-http/credit.js";
import { decodeDelivery, delivery, unwrap, WAKE } from "../gnode-http/envelope.js";
import { sleep } from "../gnode-http/node-streams.js";
import { isQueueMissing, noop } from "../gnode-http/reasons.js";
import type { TcpNode } from "./tcp-node.js";

export interface QueueConsumer {
  readonly topic: string;
  readonly bindKey: string;
  /** The topic as the app named it. */
  readonly pattern: string;
  /** Reads the dead-letter queue (`dead`), rather than popping. */
  readonly dead: boolean;
  readonly signal: AbortSignal;
  readonly sink: StreamSink;
  readonly gate: CreditGate;
  readonly heartbeatTimeoutMs: number;
  /** Polling interval while a dead-letter queue does not exist yet. */
  readonly deadPollMs: number;
  /** Sets the topic up again on this node (after it lost a queue). */
  ensure(node: TcpNode): Promise<void>;
}

/** `pop` (or `dead`) while there is credit, delivering each message, on a socket of its own;
 *  returns when the signal aborts. */
export async function readLoop(node: TcpNode, c: QueueConsumer): Promise<void> {
  const { signal, dead, topic, bindKey } = c;
  // Dead readers get no heartbeats.
  const socket = await node.open(signal, { heartbeatMs: dead ? 0 : c.heartbeatTimeoutMs });
  const line = `${dead ? "dead" : "pop"} ${topic} ${bindKey}`;
  // A dead letter is gone from the node once read: there is nothing to ack.
  const ack = async (id: string) => {
    if (!dead) await node.ack(id, topic, bindKey);
  };
  try {
    while (!signal.aborted) {
      try {
        await c.gate.take(signal);
      } catch {
        return;
      }
      try {
        const d = delivery(`${await socket.request(line)}`, "gnode pop");
        if (d.body === WAKE) await ack(d.id).catch(noop);
        else c.sink.message(decodeDelivery(c.pattern, d, () => ack(d.id)));
      } catch (error) {
        if (signal.aborted) return;
        if (!isQueueMissing(error)) throw error;
        // No dead-letter queue until the first dead letter; a queue a restart dropped: set up again.
        await (dead ? sleep(c.deadPollMs, signal) : c.ensure(node));
      } finally {
        c.gate.done();
      }
    }
  } finally {
    socket.destroy();
  }
}

/**
 * `subscribe <channel>` on a socket of its own; resolves once the node confirmed, with a promise
 * (`ended`) that settles when the socket ends (rejects) or the signal aborts (resolves). The
 * socket stops reading while the subscription has no credit (the node then holds the channel
 * back).
 */
export async function openChannel(
  node: TcpNode,
  name: string,
  pattern: string,
  signal: AbortSignal,
  sink: StreamSink,
  flow: FlowControl,
): Promise<{ ended: Promise<void> }> {
  const socket = await node.open(signal, {
    channel(payload) {
      sink.message(decodeChannel(pattern, payload));
      if (flow.credit > 0) return;
      socket.socket.pause();
      flow.ready(signal).then(() => socket.socket.resume(), noop);
    },
  });
  try {
    await socket.request(`subscribe ${name}`);
  } catch (error) {
    socket.destroy();
    throw error;
  }
  return {
    ended: socket.closed.then((error) => {
      if (!signal.aborted) throw error;
    }),
  };
}

/** A channel's bytes: a gmq envelope, or another publisher's raw bytes. */
function decodeChannel(topic: string, payload: Buffer): InboundMessage {
  const e = payload[0] === 0x7b ? unwrap(`${payload}`) : undefined;
  return e ? { topic, ...e } : { topic, payload };
}
