/**
 * What arrives on one link, routed to the core: `message` frames to their subscription's stream
 * (by `sub`), `request` frames to the stream of the `handle` serving that method. A request is
 * handed over as a message whose reply (a publish to `RESPONSE_TOPIC` with the request's
 * `correlationId`) becomes a `response` frame.
 */
import { GmqError, type InboundMessage, type StreamSink } from "gmq";
import type { HubLink } from "./hub-link.js";
import { takePayload } from "./payload.js";
import type { MessageFrame, RequestFrame, StreamPosition } from "./protocol.js";

/** Where the core's replies to served calls are published; the correlation id is the `req`.
 *  Such a publish becomes a `response` frame and never reaches the hub as a message. */
export const RESPONSE_TOPIC = "$gmq/response";

export interface SubscriptionEntry {
  readonly sink: StreamSink;
  /** A stream subscription (one topic, no queue): its messages carry positions (§7.2). */
  readonly stream: boolean;
}

export interface HandlerEntry {
  readonly sink: StreamSink;
  /** The topic requests are delivered on (the subscription's pattern). */
  readonly topic: string;
}

export function positionText(position: StreamPosition): string {
  return `${position.epoch}:${position.offset}`;
}

/** A position we wrote, or undefined for anything else (then the subscription starts afresh). */
export function parsePosition(text: string): StreamPosition | undefined {
  const at = text.lastIndexOf(":");
  if (at <= 0) return undefined;
  const offset = Number(text.slice(at + 1));
  return Number.isSafeInteger(offset) && offset >= 0 ? { epoch: text.slice(0, at), offset } : undefined;
}

export function handlerKey(service: string, method: string): string {
  return `${service}\u0000${method}`;
}

export class LinkRouting {
  readonly subscriptions = new Map<string, SubscriptionEntry>();
  readonly handlers = new Map<string, HandlerEntry>();
  /** Requests served on this link and not yet answered. */
  readonly requests = new Set<string>();

  constructor(
    private readonly link: HubLink,
    private readonly onError: (error: GmqError) => void,
  ) {}

  message(frame: MessageFrame): void {
    const entry = this.subscriptions.get(frame.sub);
    if (!entry) return; // in flight before our unsubscribe (§7.4)
    let payload: Uint8Array;
    try {
      payload = takePayload(frame);
    } catch (error) {
      this.onError(GmqError.from(error, "protocol"));
      return;
    }
    const message: { -readonly [K in keyof InboundMessage]: InboundMessage[K] } = {
      topic: frame.topic,
      payload,
    };
    if (frame.id !== undefined) message.id = frame.id;
    if (frame.headers !== undefined) message.headers = frame.headers;
    if (frame.replyTo !== undefined) message.replyTo = frame.replyTo;
    if (frame.correlationId !== undefined) message.correlationId = frame.correlationId;
    if (frame.redelivered) message.redelivered = true;
    if (entry.stream && frame.epoch !== undefined && frame.offset !== undefined) {
      message.position = `${frame.epoch}:${frame.offset}`;
    }
    const tag = frame.tag;
    if (tag !== undefined) {
      // A tag means something only on the connection that gave it: a later one may reuse it.
      const link = this.link;
      message.ack = () => {
        if (link.alive) link.send({ type: "ack", tag }).catch(() => {});
      };
      message.nack = ({ requeue }) => {
        if (link.alive) link.send({ type: "nack", tag, requeue }).catch(() => {});
      };
    }
    entry.sink.message(message);
  }

  request(frame: RequestFrame): void {
    const entry = this.handlers.get(handlerKey(frame.service, frame.method));
    if (!entry) {
      // Unhandled meanwhile: say so rather than let the caller wait for its deadline.
      this.link
        .send({
          type: "response",
          req: frame.req,
          error: { code: "no_responder", message: `${frame.service}.${frame.method} is not served here` },
        })
        .catch(() => {});
      return;
    }
    let payload: Uint8Array;
    try {
      payload = takePayload(frame);
    } catch (error) {
      this.onError(GmqError.from(error, "protocol"));
      return;
    }
    this.requests.add(frame.req);
    entry.sink.message({
      topic: entry.topic,
      payload,
      ...(frame.headers !== undefined && { headers: frame.headers }),
      replyTo: RESPONSE_TOPIC,
      correlationId: frame.req,
    });
  }

  /** The hub ended a subscription (a gap it could not repair): the core subscribes again. */
  ended(sub: string, error: GmqError): void {
    const entry = this.subscriptions.get(sub);
    if (!entry) return;
    this.subscriptions.delete(sub);
    entry.sink.end(error);
  }
}
