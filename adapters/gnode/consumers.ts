/**
 * The blocking consumers of the TCP adapter, each on a socket of its own (spec §6): a queue's pop
 * loop (with 105 heartbeats: silent for too long means dead), a dead-letter reader (`dead`: no
 * heartbeats, destructive, polled until the dead-letter queue exists), and a channel subscriber
 * (104 frames, paused while the subscription has no credit).
 */
import type { Buffer } from "node:buffer";
import { type FlowControl, GmqError, type InboundMessage, type StreamSink } from "gmq";
import type { CreditGate } from "../gnode-http/credit.js";
import { type Delivery, decodeDelivery, WAKE } from "../gnode-http/envelope.js";
import { sleep } from "../gnode-http/node-streams.js";
import { badReply, GNODE_REASONS, isQueueMissing } from "../gnode-http/reasons.js";
import type { NodeSocket } from "./node-socket.js";
import type { TcpNode } from "./tcp-node.js";

export interface QueueConsumer {
  readonly topic: string;
  readonly bindKey: string;
  /** The topic as the app named it. */
  readonly appTopic: string;
  readonly signal: AbortSignal;
  readonly sink: StreamSink;
  readonly gate: CreditGate;
  readonly heartbeatTimeoutMs: number;
  /** Polling interval while a dead-letter queue does not exist yet. */
  readonly deadPollMs: number;
  /** Sets the topic up again on this node (after it lost a queue). */
  ensure(node: TcpNode): Promise<void>;
}

function parse(payload: Buffer): Delivery {
  let d: Delivery | undefined;
  try {
    d = JSON.parse(payload.toString("utf8"));
  } catch {}
  if (typeof d?.id !== "string" || typeof d.body !== "string" || typeof d.retry_count !== "number") {
    throw badReply("gnode pop", "not a message");
  }
  return d;
}

/** Opens the consumer's own socket, closed when the loop ends or the subscription does. */
async function withSocket(
  node: TcpNode,
  signal: AbortSignal,
  run: (s: NodeSocket) => Promise<void>,
  events = {},
) {
  const socket = await node.open({ closed() {}, ...events }, signal);
  const close = (): void => socket.destroy(new GmqError("closed", "subscription ended"));
  signal.addEventListener("abort", close, { once: true });
  try {
    await run(socket);
  } finally {
    signal.removeEventListener("abort", close);
    close();
  }
}

/** Fails the socket when a blocked `pop` hears nothing (not even a heartbeat) for too long. */
function watchHeartbeats(socket: NodeSocket, timeoutMs: number): () => void {
  const timer = setInterval(
    () => {
      if (socket.busy > 0 && Date.now() - socket.lastFrameAt > timeoutMs) {
        socket.destroy(
          new GmqError("disconnected", `gnode ${socket.address}: no heartbeat for ${timeoutMs} ms`, {
            reason: GNODE_REASONS.HEARTBEAT_LOST,
          }),
        );
      }
    },
    Math.max(50, timeoutMs / 5),
  );
  timer.unref?.();
  return () => clearInterval(timer);
}

/** `pop` (or `dead`) while there is credit, delivering each message; returns when the signal aborts. */
export async function readLoop(node: TcpNode, c: QueueConsumer, dead: boolean): Promise<void> {
  await withSocket(node, c.signal, async (socket) => {
    // One watch per socket (dead readers get no heartbeats): it looks only while a pop waits.
    const stop = dead ? () => {} : watchHeartbeats(socket, c.heartbeatTimeoutMs);
    try {
      await loop(socket);
    } finally {
      stop();
    }
  });
  async function loop(socket: NodeSocket): Promise<void> {
    const line = `${dead ? "dead" : "pop"} ${c.topic} ${c.bindKey}`;
    while (!c.signal.aborted) {
      try {
        await c.gate.take(c.signal);
      } catch {
        return;
      }
      try {
        socket.lastFrameAt = Date.now();
        const d = parse(await socket.request(line));
        if (d.body === WAKE) {
          if (!dead) await node.ack(d.id, c.topic, c.bindKey).catch(() => {});
          continue;
        }
        // A dead letter is gone from the node once read: there is nothing to ack.
        const ack = dead ? () => Promise.resolve() : () => node.ack(d.id, c.topic, c.bindKey);
        c.sink.message(decodeDelivery(c.appTopic, d, ack));
      } catch (error) {
        if (c.signal.aborted) return;
        if (!isQueueMissing(error)) throw error;
        // No dead-letter queue until the first dead letter; a queue a restart dropped: set up again.
        if (dead) await sleep(c.deadPollMs, c.signal);
        else await c.ensure(node);
      } finally {
        c.gate.done();
      }
    }
  }
}

export interface ChannelConsumer {
  readonly name: string;
  readonly appTopic: string;
  readonly signal: AbortSignal;
  readonly flow: FlowControl;
  deliver(message: InboundMessage): void;
  decode(topic: string, payload: Buffer): InboundMessage;
}

/**
 * `subscribe <channel>` on a socket of its own; resolves once the node confirmed, with a promise
 * (`ended`) that settles when the socket ends (rejects) or the signal aborts (resolves). The socket stops
 * reading while the subscription has no credit (the node then holds the channel back).
 */
export async function openChannel(node: TcpNode, c: ChannelConsumer): Promise<{ ended: Promise<void> }> {
  let ended!: (error: GmqError) => void;
  const closed = new Promise<GmqError>((resolve) => {
    ended = resolve;
  });
  let socket: NodeSocket | undefined;
  const channel = (payload: Buffer): void => {
    c.deliver(c.decode(c.appTopic, payload));
    if (c.flow.credit > 0 || !socket) return;
    socket.socket.pause();
    c.flow.ready(c.signal).then(
      () => socket?.socket.resume(),
      () => {},
    );
  };
  socket = await node.open({ channel, closed: ended }, c.signal);
  const s = socket;
  const close = (): void => s.destroy(new GmqError("closed", "subscription ended"));
  c.signal.addEventListener("abort", close, { once: true });
  try {
    await s.request(`subscribe ${c.name}`);
  } catch (error) {
    close();
    throw error;
  }
  return {
    ended: closed.then((error) => {
      if (!c.signal.aborted) throw error;
    }),
  };
}
