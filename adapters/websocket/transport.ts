import {
  type CallRequest,
  type CallResponse,
  GmqError,
  messageSequence,
  type OperationOptions,
  type OutboundMessage,
  type SubscribeRequest,
  type SubscribeResult,
  type Transport,
  type TransportSink,
  type TransportSubscribeOptions,
} from "gmq";
import { wireError } from "./errors.js";
import { Gw123Transport } from "./gw123.js";
import { HubLink } from "./hub-link.js";
import { type ResolvedOptions, resolveOptions, type WebSocketOptions } from "./options.js";
import { putPayload, takePayload } from "./payload.js";
import type { CallFrame, PublishFrame, ResponseFrame, SubscribeFrame } from "./protocol.js";
import { WEBSOCKET_REASONS } from "./reasons.js";
import { TokenRefresher } from "./refresh.js";
import { handlerKey, LinkRouting, parsePosition, positionText, RESPONSE_TOPIC } from "./routing.js";

/** The header the core puts on a reply that carries an error (gmq's RPC convention). */
const ERROR_HEADER = "gmq-error";
const decoder = new TextDecoder();

/** One live connection and what hangs on it. */
interface Live {
  readonly link: HubLink;
  readonly routing: LinkRouting;
  readonly refresher: TokenRefresher | undefined;
}

/**
 * `gmq/websocket`: the gmq hub protocol (`gmq.v1.json`), or with `dialect: "gw123"` the legacy
 * gw123/GMQ `/message` socket.
 */
export function websocket(options: WebSocketOptions): Transport {
  const config = resolveOptions(options);
  return config.dialect === "gw123" ? new Gw123Transport(config) : hubTransport(config);
}

function hubTransport(config: ResolvedOptions): Transport {
  let live: Live | undefined;
  let urlIndex = 0;
  let subCounter = 0;
  /** The last token given to the hub, to tell whether the provider has a new one. */
  let lastToken: string | undefined;
  /** Per outbox producer: every `seq` up to this was accepted by the hub. */
  const accepted = new Map<string, number>();
  /** The producer of the last message sent: the `clientId` of the next `connect`. */
  let lastProducer: string | undefined;

  const current = (): Live => {
    if (!live?.link.alive) throw new GmqError("disconnected", "not connected to the gmq hub");
    return live;
  };

  const raiseMark = (producer: string, seq: number): void => {
    if (seq > (accepted.get(producer) ?? 0)) accepted.set(producer, seq);
  };

  const fetchToken = async (): Promise<string | undefined> => {
    if (!config.token) return undefined;
    try {
      return await config.token();
    } catch (cause) {
      throw new GmqError("unauthenticated", "the token provider failed", {
        cause,
        reason: WEBSOCKET_REASONS.token_provider,
      });
    }
  };

  /** A reply to a served call: a `response` frame for its request. */
  const respond = (state: Live, message: OutboundMessage, req: string): Promise<void> => {
    state.routing.requests.delete(req);
    if (message.headers?.[ERROR_HEADER] !== undefined) {
      let body: { message?: unknown; reason?: unknown; details?: unknown } = {};
      try {
        body = JSON.parse(decoder.decode(message.payload));
      } catch {
        // not the core's error shape: a plain remote failure
      }
      return state.link.send({
        type: "response",
        req,
        error: {
          message: typeof body.message === "string" ? body.message : "the handler failed",
          ...(typeof body.reason === "string" && { reason: body.reason }),
          ...(body.details !== undefined && { details: body.details }),
        },
      });
    }
    const frame: ResponseFrame = { type: "response", req };
    putPayload(frame, message.payload);
    const headers = message.headers && { headers: message.headers };
    return state.link.send({ ...frame, ...headers });
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

    async connect(sink: TransportSink, { signal }: OperationOptions): Promise<void> {
      const url = config.urls[urlIndex % config.urls.length]!;
      let link: HubLink;
      try {
        const token = await fetchToken();
        lastToken = token;
        const clientId = config.clientId ?? lastProducer;
        let state: Live | undefined;
        link = await HubLink.open(
          {
            url,
            token,
            clientId,
            client: config.client,
            maxQueuedBytes: config.maxQueuedBytes,
            socketBufferBytes: config.socketBufferBytes,
          },
          {
            message: (frame) => state?.routing.message(frame),
            request: (frame) => state?.routing.request(frame),
            ended: (sub, error) => state?.routing.ended(sub, error),
            error: (error) => sink.onError(error),
            activity: () => state?.refresher?.check(),
          },
          signal,
        );
        const connected = link.connected;
        if (clientId !== undefined && connected.lastSeq > 0) raiseMark(clientId, connected.lastSeq);
        const refresher = config.token
          ? new TokenRefresher(link, config.token, sink.onError, (token) => {
              lastToken = token;
            })
          : undefined;
        state = { link, routing: new LinkRouting(link, sink.onError), refresher };
        refresher?.expires(connected.expiresAt);
        live = state;
        link.onLost = (error) => {
          refresher?.stop();
          if (live === state) live = undefined;
          // A hub shutting down: the next one in the list, at once (§13, §14).
          if (error.reason === WEBSOCKET_REASONS.shutdown) urlIndex++;
          sink.onDisconnect(error);
        };
      } catch (error) {
        urlIndex++; // fail over to the next URL on the next attempt
        throw error;
      }
    },

    async shouldRetry(error: GmqError): Promise<boolean> {
      // Refused credentials: worth another try only if the provider has other ones now (§10).
      if (error.code !== "unauthenticated" || !config.token) return false;
      try {
        return (await config.token()) !== lastToken;
      } catch {
        return false;
      }
    },

    async disconnect(): Promise<void> {
      const state = live;
      live = undefined;
      if (!state) return;
      state.refresher?.stop();
      await state.link.close();
    },

    // The signal is the link's: its loss fails what waits on it already, so no listener per message.
    async publish(message: OutboundMessage): Promise<void> {
      const state = current();
      if (message.topic === RESPONSE_TOPIC) {
        // A reply to a served call. One for a request of an earlier connection has nowhere to go:
        // the hub already failed that call (`remote`, `handler_disconnected`).
        const req = message.correlationId;
        return req !== undefined && state.routing.requests.has(req)
          ? respond(state, message, req)
          : undefined;
      }
      const frame: PublishFrame = { type: "publish", topic: message.topic, id: message.id };
      putPayload(frame, message.payload);
      if (message.headers !== undefined) frame.headers = message.headers as Record<string, string>;
      if (message.replyTo !== undefined) frame.replyTo = message.replyTo;
      if (message.correlationId !== undefined) frame.correlationId = message.correlationId;
      if (message.qos === 0) {
        frame.qos = 0;
        return state.link.send(frame);
      }
      // Outbox messages carry their producer's (clientId, seq): the hub applies each once (§6.2).
      const sequence = messageSequence(message.id);
      if (sequence) {
        if (sequence.seq <= (accepted.get(sequence.producer) ?? 0)) return; // accepted before
        frame.seq = sequence.seq;
        frame.clientId = sequence.producer;
        lastProducer = sequence.producer;
      }
      await state.link.request(frame);
      if (sequence) raiseMark(sequence.producer, sequence.seq);
    },

    async subscribe(
      request: SubscribeRequest,
      { signal, sink, flow }: TransportSubscribeOptions,
    ): Promise<SubscribeResult | undefined> {
      const state = current();
      const { link, routing } = state;
      if (request.serve) {
        const { service, method } = request.serve;
        const key = handlerKey(service, method);
        const entry = { sink, topic: request.pattern };
        routing.handlers.set(key, entry);
        signal.addEventListener("abort", () => {
          if (routing.handlers.get(key) !== entry) return;
          routing.handlers.delete(key);
          if (link.alive) link.request({ type: "unhandle", service, method }).catch(() => {});
        });
        try {
          await link.request({ type: "handle", service, method }, signal);
        } catch (error) {
          if (routing.handlers.get(key) === entry) routing.handlers.delete(key);
          throw error;
        }
        return;
      }
      const sub = `s${(++subCounter).toString(36)}`;
      const stream = request.queue === undefined && !/(^|\/)[+#](\/|$)/.test(request.pattern);
      const frame: Omit<SubscribeFrame, "rid"> = { type: "subscribe", sub, pattern: request.pattern };
      if (request.queue !== undefined) frame.queue = request.queue;
      if (request.manualAck) {
        frame.ack = "manual";
        // The hub holds what the app cannot take yet: at most what the subscription can buffer.
        const credit = Number.isFinite(flow.credit) ? flow.credit : link.connected.limits.maxInFlight;
        frame.maxInFlight = Math.max(1, Math.min(credit, link.connected.limits.maxInFlight));
      }
      const from = stream && request.position !== undefined ? parsePosition(request.position) : undefined;
      if (from) frame.recover = from;
      const entry = { sink, stream };
      routing.subscriptions.set(sub, entry);
      const forget = () => {
        if (routing.subscriptions.get(sub) !== entry) return false;
        routing.subscriptions.delete(sub);
        return true;
      };
      signal.addEventListener("abort", () => {
        if (forget() && link.alive) link.request({ type: "unsubscribe", sub }).catch(() => {});
      });
      let answer: Awaited<ReturnType<HubLink["request"]>>;
      try {
        answer = await link.request(frame, signal);
      } catch (error) {
        forget();
        throw error;
      }
      if (
        answer.type !== "subscribed" ||
        !stream ||
        answer.epoch === undefined ||
        answer.offset === undefined
      )
        return;
      const now = positionText({ epoch: answer.epoch, offset: answer.offset });
      // Resumed: every missed message follows. Otherwise start from where the stream is now.
      if (from) return answer.recovered === true ? { recovered: true } : { recovered: false, position: now };
      return { position: now };
    },

    async call(request: CallRequest): Promise<CallResponse> {
      const state = current();
      const limit = state.link.connected.limits.maxCallTimeoutMs;
      const frame: Omit<CallFrame, "rid"> = {
        type: "call",
        service: request.service,
        method: request.method,
        timeoutMs: Math.min(request.timeoutMs ?? limit, limit),
        ...(request.headers && { headers: request.headers as Record<string, string> }),
      };
      putPayload(frame, request.payload);
      const answer = await state.link.request(frame, request.signal);
      if (answer.type !== "reply") throw wireError({ code: "protocol" }, `unexpected answer ${answer.type}`);
      return {
        payload: takePayload(answer),
        ...(answer.headers && { headers: answer.headers }),
      };
    },
  };
}
