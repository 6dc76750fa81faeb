import {
  GmqError,
  type InboundMessage,
  jsonCodec,
  messageSequence,
  type OutboundMessage,
  type StreamSink,
  type Transport,
} from "gmq";
import { wireError } from "./errors.js";
import { type HubLink, openLink } from "./hub-link.js";
import { resolveOptions, type WebSocketOptions } from "./options.js";
import { putPayload, takePayload } from "./payload.js";
import {
  type CallFrame,
  closeAction,
  type HubFrame,
  type PublishFrame,
  type ReplyFrame,
  type ResponseFrame,
  type StreamPosition,
  type SubscribedFrame,
  type SubscribeFrame,
} from "./protocol.js";
import { refresher } from "./refresh.js";
import type { SendTarget } from "./send-queue.js";

/** Where the core's replies to served calls are published; the correlation id is the `req`.
 *  Such a publish becomes a `response` frame and never reaches the hub as a message. */
export const RESPONSE_TOPIC = "$gmq/response";

/** The header the core puts on a reply that carries an error (gmq's RPC convention). */
const ERROR_HEADER = "gmq-error";

/**
 * What a subscription or a `handle` delivers to, by `sub` or by `service\0method`. `stream`: one
 * topic and no queue, so its messages carry positions (§7.2); `topic`: the pattern requests are
 * delivered on.
 */
interface Route {
  readonly sink: StreamSink;
  readonly stream?: boolean;
  readonly topic?: string;
}

/** A received frame, turned into the message the core gets: one object per message, not two. */
type Inbound = { -readonly [K in keyof InboundMessage]: InboundMessage[K] };

/** A position we wrote, or undefined for anything else (then the subscription starts afresh). */
function parsePosition(text: string): StreamPosition | undefined {
  const at = text.lastIndexOf(":");
  const offset = Number(text.slice(at + 1));
  return at > 0 && Number.isSafeInteger(offset) && offset >= 0
    ? { epoch: text.slice(0, at), offset }
    : undefined;
}

/**
 * `gmq/websocket`: the gmq hub protocol, `gmq.v1.json` (`docs/websocket-protocol.md`).
 * `beforeSend`: what only Node does before a frame goes to the socket (see cork.ts); the browser
 * build passes nothing.
 */
export function createWebsocket(
  options: WebSocketOptions,
  beforeSend?: (socket: SendTarget) => void,
): Transport {
  const config = resolveOptions(options);
  /** The live link, and its token refresh's check. */
  let live: HubLink | undefined;
  let refresh: (() => void) | undefined;
  /** Of the live link (cleared on connect): by `sub`, or by `service\0method` for a `handle`. */
  const routes = new Map<string, Route>();
  /** Requests served on the live link and not yet answered. */
  const requests = new Set<string>();
  let urlIndex = 0;
  let subCounter = 0;
  /** The last token given to the hub, to tell whether the provider has a new one. */
  let lastToken: string | undefined;
  /** Per outbox producer: every `seq` up to this was accepted by the hub. */
  const accepted = new Map<string, number>();
  /** The producer of the last message sent: the `clientId` of the next `connect`. */
  let lastProducer: string | undefined;

  const current = (): HubLink => {
    if (!live?.alive) throw new GmqError("disconnected", "not connected");
    return live;
  };
  const raiseMark = (producer: string, seq: number) => {
    if (seq > (accepted.get(producer) ?? 0)) accepted.set(producer, seq);
  };

  /** What arrives on a link that is not an answer: to the stream of its subscription or
   *  handle. Every frame also lets the token refresh look at the wall clock. */
  const route = (frame: HubFrame, link: HubLink, onError: (error: GmqError) => void) => {
    refresh?.();
    if (frame.type === "error") return onError(wireError(frame, "hub error"));
    if (frame.type === "unsubscribed") {
      // The hub ended a subscription (a gap it could not repair): the core subscribes again.
      const entry = routes.get(frame.sub);
      routes.delete(frame.sub);
      return entry?.sink.end(wireError(frame.error ?? { code: "disconnected" }, "ended by the hub"));
    }
    const message = frame as unknown as Inbound;
    let entry: Route | undefined;
    if (frame.type === "request") {
      const { req, service, method } = frame;
      entry = routes.get(`${service}\0${method}`);
      if (!entry) {
        // Unhandled meanwhile: say so rather than let the caller wait for its deadline.
        const error = { code: "no_responder", message: `${service}.${method} is not served here` };
        return void link.send({ type: "response", req, error }).catch(() => {});
      }
      requests.add(req);
      message.topic = entry.topic!;
      message.replyTo = RESPONSE_TOPIC;
      message.correlationId = req;
    } else if (frame.type === "message") {
      // None: in flight before our unsubscribe (§7.4).
      entry = routes.get(frame.sub);
      const { epoch, offset, tag } = frame;
      if (entry?.stream && epoch !== undefined && offset !== undefined)
        message.position = `${epoch}:${offset}`;
      if (tag !== undefined) {
        // A tag means something only on the connection that gave it: a later one may reuse it.
        message.ack = () => link.ack(tag);
        message.nack = ({ requeue }) => {
          link.send({ type: "nack", tag, requeue }).catch(() => {});
        };
      }
    }
    if (!entry) return;
    try {
      message.payload = takePayload(frame as { payload?: unknown });
    } catch (error) {
      return onError(error as GmqError);
    }
    entry.sink.message(message);
  };

  /** A reply to a served call: a `response` frame for its request. */
  const respond = (link: HubLink, { headers, payload }: OutboundMessage, req: string) => {
    const frame: ResponseFrame = { type: "response", req };
    if (headers?.[ERROR_HEADER] === undefined) {
      putPayload(frame, payload);
      frame.headers = headers as Record<string, string>;
    } else {
      // The core's error body, {message, reason, details}, is the frame's `error` as it is.
      frame.error = {};
      try {
        frame.error = jsonCodec.decode(payload) as ResponseFrame["error"];
      } catch {
        // not the core's shape: a plain remote failure
      }
    }
    return link.send(frame);
  };

  return {
    name: "websocket",
    capabilities: {
      connection: "link",
      inbound: "stream",
      wildcards: true,
      requestReply: true,
      serve: true,
      ack: true,
      delay: false,
      binary: true,
      queues: true,
      headers: true,
      retain: false,
    },

    async connect(sink, { signal }) {
      try {
        let token: string | undefined;
        try {
          token = lastToken = await config.token?.();
        } catch (cause) {
          throw new GmqError("unauthenticated", "the token provider failed", {
            cause,
            reason: "token_provider",
          });
        }
        const clientId = config.clientId ?? lastProducer;
        routes.clear();
        requests.clear();
        const link = await openLink(
          { ...config, url: config.urls[urlIndex % config.urls.length]!, token, clientId, beforeSend },
          (frame, link) => route(frame, link, sink.onError),
          signal,
        );
        const { lastSeq } = link.connected;
        if (clientId && lastSeq) raiseMark(clientId, lastSeq);
        refresh =
          config.token &&
          refresher(link, config.token, sink.onError, (fresh) => {
            lastToken = fresh;
          });
        live = link;
        link.onLost = (error) => {
          // A hub shutting down: the next one in the list (§13, §14). A close in the
          // reconnect-at-once range (shutdown, an expired token: a fresh one is fetched) and a
          // lost heartbeat come back without the backoff.
          if (error.reason === "shutdown") urlIndex++;
          const code = (error.details as { closeCode?: number } | undefined)?.closeCode;
          const now = error.reason === "heartbeat_timeout" || closeAction(code ?? 0) === "reconnect_now";
          sink.onDisconnect(error, { reconnectNow: now });
        };
      } catch (error) {
        urlIndex++; // fail over to the next URL on the next attempt
        throw error;
      }
    },

    async shouldRetry(error) {
      // Refused credentials: worth another try only if the provider has other ones now (§10).
      try {
        return error.code === "unauthenticated" && !!config.token && (await config.token()) !== lastToken;
      } catch {
        return false;
      }
    },

    async disconnect() {
      await live?.close();
    },

    // The signal is the link's: its loss fails what waits on it already, so no listener per message.
    async publish(message) {
      const link = current();
      const { topic, id, headers, replyTo, correlationId, payload } = message;
      if (topic === RESPONSE_TOPIC) {
        // A reply to a served call. One for a request of an earlier connection has nowhere to go:
        // the hub already failed that call (`remote`, `handler_disconnected`).
        return requests.delete(correlationId!) ? respond(link, message, correlationId!) : undefined;
      }
      const frame: PublishFrame = {
        type: "publish",
        topic,
        id,
        headers: headers as Record<string, string>,
        replyTo,
        correlationId,
      };
      putPayload(frame, payload);
      if (message.qos === 0) {
        frame.qos = 0;
        return link.send(frame);
      }
      // Outbox messages carry their producer's (clientId, seq): the hub applies each once (§6.2).
      const sequence = messageSequence(id);
      if (sequence) {
        if (sequence.seq <= (accepted.get(sequence.producer) ?? 0)) return; // accepted before
        frame.seq = sequence.seq;
        frame.clientId = lastProducer = sequence.producer;
      }
      await link.request(frame);
      if (sequence) raiseMark(sequence.producer, sequence.seq);
    },

    async subscribe({ pattern, queue, position, manualAck, serve }, { signal, sink, flow }) {
      const link = current();
      // A `handle`: the calls of one method, by `service\0method`.
      const key = serve ? `${serve.service}\0${serve.method}` : `s${(++subCounter).toString(36)}`;
      const stream = !serve && queue === undefined && !/(^|\/)[+#](\/|$)/.test(pattern);
      const from = stream && position !== undefined ? parsePosition(position) : undefined;
      const entry: Route = { sink, stream, topic: pattern };
      routes.set(key, entry);
      const forget = () => routes.get(key) === entry && routes.delete(key);
      signal.addEventListener("abort", () => {
        if (forget() && link.alive) {
          link
            .request(serve ? { type: "unhandle", ...serve } : { type: "unsubscribe", sub: key })
            .catch(() => {});
        }
      });
      const frame: Omit<SubscribeFrame, "rid"> = {
        type: "subscribe",
        sub: key,
        pattern,
        queue,
        recover: from,
      };
      if (manualAck) {
        // The hub holds what the app cannot take yet: at most what the subscription can buffer.
        const most = link.connected.limits.maxInFlight;
        frame.ack = "manual";
        frame.maxInFlight = Math.min(flow.credit, most) || 1;
      }
      let answer: HubFrame;
      try {
        answer = await link.request(serve ? { type: "handle", ...serve } : frame, signal);
      } catch (error) {
        forget();
        throw error;
      }
      // A stream subscription's answer has its position (§7.2). Resumed: every missed message
      // follows. Otherwise start from where the stream is now.
      if (!stream) return;
      const { epoch, offset, recovered } = answer as SubscribedFrame;
      const now = `${epoch}:${offset}`;
      if (!from) return { position: now };
      return recovered ? { recovered: true } : { recovered: false, position: now };
    },

    async call({ service, method, payload, headers, timeoutMs, signal }) {
      const link = current();
      const limit = link.connected.limits.maxCallTimeoutMs;
      const frame: Omit<CallFrame, "rid"> = {
        type: "call",
        service,
        method,
        timeoutMs: Math.min(timeoutMs ?? limit, limit),
        headers: headers as Record<string, string>,
      };
      putPayload(frame, payload);
      // The answer to a call is `reply` (or `error`, thrown).
      const answer = (await link.request(frame, signal)) as ReplyFrame;
      return { payload: takePayload(answer), headers: answer.headers };
    },
  };
}
