/**
 * The gw123/GMQ legacy dialect (spec `gw123-gmq.md` §4): the web module's `/message` socket,
 * `ws://host/message?moduleName=<name>`. Publish only: each message is one JSON text frame
 * `{MsgId, EventName, SourcModuleName, DstModuleName, Payload, Token}` put on the bus as it is;
 * the server never answers, forwards nothing and has no subscribe, so `inbound` is `"none"` and
 * a publish is done once its frame is written. One live connection per `moduleName`: a newer one
 * evicts the older (`stop`, then a close), so a reconnect waits until the old socket has closed,
 * and an evicted transport does not fight back: its next connect fails with `forbidden`
 * (reason `evicted`) and the client stops until the app connects again.
 */
import {
  GmqError,
  type OperationOptions,
  type OutboundMessage,
  type Transport,
  type TransportCapabilities,
  type TransportNaming,
  type TransportSink,
} from "gmq";
import WebSocket from "isomorphic-ws";
import { corkTurn } from "../websocket/cork.js";
import { closeReason } from "../websocket/errors.js";
import { WEBSOCKET_REASONS } from "../websocket/reasons.js";
import { type SendQueue, sendQueue } from "../websocket/send-queue.js";
import { type Gw123WebsocketOptions, type ResolvedGw123Options, resolveGw123Options } from "./options.js";

/** The server reads every connection into one 1 MiB buffer: a longer frame is cut and dropped. */
const MAX_FRAME_BYTES = 1024 * 1024;
const strict = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** `gmq/websocket-gw123`: the gw123/GMQ `/message` socket, publish only. */
export function gw123Websocket(options: Gw123WebsocketOptions): Transport {
  return new Gw123Transport(resolveGw123Options(options));
}

class Gw123Transport implements Transport {
  readonly name = "gw123";
  readonly capabilities: TransportCapabilities = {
    connection: "link",
    inbound: "none",
    wildcards: false,
    requestReply: false,
    ack: false,
    delay: false,
    binary: false,
    queues: false,
    headers: false,
    retain: false,
  };
  /** An event name is any non-empty string: the bus matches it exactly. */
  readonly naming: TransportNaming = {
    topic: (topic) => (topic.includes("\u0000") ? "an event name has no NUL" : undefined),
  };
  private socket: WebSocket | undefined;
  private queue: SendQueue | undefined;
  /** Resolves once the previous socket has closed (a new one with our name would evict it). */
  private previousClosed: Promise<void> = Promise.resolve();
  private evicted: GmqError | undefined;
  private urlIndex = 0;

  constructor(private readonly config: ResolvedGw123Options) {}

  async connect(sink: TransportSink, { signal }: OperationOptions): Promise<void> {
    if (this.evicted) {
      const error = this.evicted;
      this.evicted = undefined; // the app's own connect() may take the name back
      throw error;
    }
    await this.previousClosed;
    const base = this.config.urls[this.urlIndex % this.config.urls.length]!;
    const url = `${base}${base.includes("?") ? "&" : "?"}moduleName=${encodeURIComponent(this.config.moduleName)}`;
    // `origin` is for Node (`ws`); a browser sets Origin itself and ignores the third argument.
    const socket = new WebSocket(url, [], { origin: this.config.origin });
    let closed!: () => void;
    this.previousClosed = new Promise((resolve) => {
      closed = resolve;
    });
    await new Promise<void>((resolve, reject) => {
      let open = false;
      const onAbort = () => {
        socket.close();
        reject(GmqError.from(signal.reason, "aborted"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      socket.onerror = () => {};
      socket.onopen = () => {
        open = true;
        signal.removeEventListener("abort", onAbort);
        this.socket = socket;
        this.queue = sendQueue(socket, {
          socketBufferBytes: this.config.socketBufferBytes,
          beforeSend: corkTurn,
        });
        resolve();
      };
      socket.onmessage = (event) => {
        let frame: { EventName?: unknown } | undefined;
        try {
          frame = JSON.parse(String(event.data));
        } catch {
          return; // the server sends only auth_reply and stop; nothing else matters
        }
        if (frame?.EventName === "stop") {
          this.evicted = new GmqError(
            "forbidden",
            `another connection took moduleName "${this.config.moduleName}"`,
            { reason: WEBSOCKET_REASONS.evicted },
          );
        }
      };
      socket.onclose = (event) => {
        closed();
        signal.removeEventListener("abort", onAbort);
        const error =
          this.evicted ??
          new GmqError("disconnected", `the /message socket closed with ${event.code}`, {
            reason: closeReason(event.code),
            details: { closeCode: event.code, closeReason: event.reason },
          });
        if (!open) {
          this.urlIndex++;
          return reject(error);
        }
        if (this.socket !== socket) return;
        this.socket = undefined;
        this.queue?.fail(new GmqError("disconnected", error.message, { cause: error }));
        sink.onDisconnect(error);
      };
    });
  }

  async disconnect(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    this.queue?.fail(new GmqError("disconnected", "closed by the app"));
    if (!socket) return;
    socket.close(1000);
    await Promise.race([this.previousClosed, new Promise((resolve) => setTimeout(resolve, 1_000))]);
  }

  async publish(message: OutboundMessage, { signal }: OperationOptions): Promise<void> {
    const queue = this.queue;
    if (!this.socket || !queue) throw new GmqError("disconnected", "not connected to the /message socket");
    let payload: string;
    try {
      payload = strict.decode(message.payload);
    } catch {
      throw GmqError.invalid("payload", "the /message socket carries text only (its Payload is a string)");
    }
    const text = JSON.stringify({
      MsgId: message.id,
      EventName: message.topic,
      SourcModuleName: this.config.moduleName, // (sic)
      DstModuleName: "",
      Payload: payload,
    });
    if (text.length * 3 > MAX_FRAME_BYTES && encoder.encode(text).byteLength > MAX_FRAME_BYTES) {
      throw new GmqError("payload_too_large", "payload: over the server's 1 MiB read buffer", {
        field: "payload",
        reason: WEBSOCKET_REASONS.frame_too_large,
      });
    }
    await queue.push(text, signal);
  }
}
