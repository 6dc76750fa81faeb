/**
 * The subscriptions of the TCP adapter, each reading on a socket of its own per node (spec §6): a
 * queue's pop loop (with 105 heartbeats: silent for too long means dead), a dead-letter reader
 * (`dead`: no heartbeats, destructive, polled until the dead-letter queue exists), and a channel
 * subscriber (104 frames, paused while the subscription has no credit).
 */
import type { Buffer } from "node:buffer";
import type { InboundMessage, SubscribeRequest, TransportSubscribeOptions } from "gmq";
import { creditGate } from "../gnode-http/credit.js";
import { decodeDelivery, delivery, unwrap, WAKE } from "../gnode-http/envelope.js";
import { checkName, wireName } from "../gnode-http/names.js";
import { openOnNodes, sleep } from "../gnode-http/node-streams.js";
import { isQueueMissing, noop } from "../gnode-http/reasons.js";
import type { Common } from "../gnode-http/settings.js";
import type { NodeSocket } from "./node-socket.js";
import type { TcpNode } from "./tcp-node.js";

export const DEAD = "dead/";

/**
 * `pop` (`dead` for a `dead/<topic>` pattern) on every node while there is credit, delivering
 * each message. A popping socket that hears nothing for `heartbeatMs` is dead; a dead-letter queue
 * that does not exist yet is looked for again every `deadPollMs`.
 */
export async function readQueue(
  nodes: readonly TcpNode[],
  { pattern, queue }: SubscribeRequest,
  { signal, sink, flow }: TransportSubscribeOptions,
  common: Common,
  heartbeatMs: number,
  deadPollMs: number,
): Promise<void> {
  const dead = pattern.startsWith(DEAD);
  // The pattern was checked by `naming`; the bind key was not.
  const topic = wireName(dead ? pattern.slice(DEAD.length) : pattern, common.slashAsDot);
  const bindKey = checkName(queue ?? "default", "queue", common.slashAsDot);
  const { queues } = common.topic(topic);
  if (!dead) queues.add(bindKey);
  const gate = creditGate(flow);
  const line = `${dead ? "dead" : "pop"} ${topic} ${bindKey}`;
  // A node that is down cannot be set up (its queues are declared over TCP).
  const ensure = async (node: TcpNode) => {
    if (!node.command) throw node.down();
    await node.setup.ensure(topic, queues);
  };
  const read = async (node: TcpNode): Promise<void> => {
    // Dead readers get no heartbeats.
    const socket = await node.open(signal, { heartbeatMs: dead ? 0 : heartbeatMs });
    // A dead letter is gone from the node once read: there is nothing to ack.
    const ack = async (id: string) => {
      if (!dead) await node.ack(id, topic, bindKey);
    };
    try {
      while (!signal.aborted) {
        try {
          await gate.take(signal);
        } catch {
          return;
        }
        try {
          const d = delivery(`${await socket.request(line)}`, "gnode pop");
          if (d.body === WAKE) await ack(d.id).catch(noop);
          else sink.message(decodeDelivery(pattern, d, () => ack(d.id)));
        } catch (error) {
          if (signal.aborted) return;
          if (!isQueueMissing(error)) throw error;
          // No dead-letter queue until the first dead letter; a queue a restart dropped: set up
          // again.
          if (dead) await sleep(deadPollMs, signal);
          else {
            node.setup.reset();
            await ensure(node);
          }
        } finally {
          gate.done();
        }
      }
    } finally {
      socket.destroy();
    }
  };
  await openOnNodes(nodes, signal, sink, common.retryMs, ensure, read);
}

/**
 * `subscribe <channel>` on every node. The socket stops reading while the subscription has no
 * credit (the node then holds the channel back).
 */
export function readChannel(
  nodes: readonly TcpNode[],
  name: string,
  pattern: string,
  { signal, sink, flow }: TransportSubscribeOptions,
  retryMs: number,
): Promise<void> {
  const sockets = new Map<TcpNode, NodeSocket>();
  const open = async (node: TcpNode) => {
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
    sockets.set(node, socket);
  };
  // Over when the socket is (an error unless the subscription ended).
  const run = async (node: TcpNode) => {
    const error = await sockets.get(node)!.closed;
    if (!signal.aborted) throw error;
  };
  return openOnNodes(nodes, signal, sink, retryMs, open, run);
}

/** A channel's bytes: a gmq envelope, or another publisher's raw bytes. */
function decodeChannel(topic: string, payload: Buffer): InboundMessage {
  const e = payload[0] === 0x7b ? unwrap(`${payload}`) : undefined;
  return e ? { topic, ...e } : { topic, payload };
}
