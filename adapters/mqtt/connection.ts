/**
 * One MQTT connection: a fresh mqtt.js client per connect (its own reconnect is off, the core owns
 * reconnecting), from CONNECT to close. It settles every operation it started: when the socket
 * dies, in-flight publishes and subscribes reject with `disconnected` instead of waiting for a
 * reconnect that mqtt.js will never make.
 */
import {
  GmqError,
  type InboundMessage,
  type OutboundMessage,
  type SubscribeRequest,
  type TransportSink,
} from "gmq";
// Default import: mqtt's browser ESM build has no named exports.
import mqttjs, {
  type IClientOptions,
  type IPublishPacket,
  type IStore,
  type MqttClient,
  type Packet,
} from "mqtt";
import { HELD, InboundAcks } from "./acks.js";
import type { Corks, tuneStream } from "./cork.js";
import type { bufferPassword, WireCredentials } from "./credentials.js";
import {
  CLOSED_BEFORE_CONNACK,
  connackError,
  isSocketError,
  nativeError,
  publishError,
  reasonError,
  subackError,
  type tlsError,
} from "./errors.js";
import type { FastPublish, fastPublisher } from "./fast-publish.js";
import { type FrameTracker, frameTracker } from "./frames.js";
import { malformedPublish } from "./malformed.js";
import { fromWire, type WireMode, wireOptions, wirePayload } from "./message.js";
import { PendingOperations } from "./operations.js";
import type { hasTcp, ResolvedOptions, tlsOptions } from "./options.js";

export interface ConnectionParams {
  readonly url: string;
  readonly version: 4 | 5;
  readonly options: ResolvedOptions;
  readonly credentials: WireCredentials;
  /** Kept across connections of a persistent session (QoS 2 messages awaiting PUBREL). */
  readonly incomingStore?: IStore;
  readonly signal: AbortSignal;
  /** Whether an inbound QoS ≥ 1 message on this topic waits for the app's ack. */
  needsAck(topic: string): boolean;
  /** The core's: messages and errors go straight to it. */
  readonly sink: TransportSink;
  /** The connection is gone, not closed by us. Called at most once. */
  closed(error: GmqError): void;
  readonly platform: PlatformParts;
}

/**
 * What only Node needs: the one-buffer PUBLISH writer (on a TCP or Node WebSocket stream), the
 * TLS error mapping (browsers hide certificate errors behind a bare WebSocket failure), the
 * tuning and corking of the socket (a syscall saved per tick or turn), binary passwords as
 * Buffers, the TLS options (a browser's WebSocket takes none) and TCP URLs. The Node entry passes
 * them; the browser build leaves them out of the bundle.
 */
export interface PlatformParts {
  readonly bufferPassword?: typeof bufferPassword;
  readonly fastPublisher?: typeof fastPublisher;
  readonly tlsError?: typeof tlsError;
  readonly tuneStream?: typeof tuneStream;
  readonly tlsOptions?: typeof tlsOptions;
  readonly hasTcp?: typeof hasTcp;
}

/** A QoS 0 publish the socket took at once: one settled promise serves them all. */
const WRITTEN: Promise<void> = Promise.resolve();

/** Requests awaiting an ack from which writes are coalesced per turn (see #corks). */
const BUSY = 8;

export class MqttConnection {
  readonly mode: WireMode;
  /** The broker resumed a stored session (CONNACK session present). */
  sessionPresent = false;
  readonly #client: MqttClient;
  /** PUBLISH packets built in one buffer, where proven (see fast-publish.ts). */
  readonly #fast: FastPublish | undefined;
  readonly #acks: InboundAcks;
  readonly #frames: FrameTracker;
  readonly #ops = new PendingOperations();
  /** QoS 0 publishes waiting for the socket to drain. */
  readonly #drainWaiters: { resolve(): void; reject(error: GmqError): void }[] = [];
  /** Publish callbacks whose PUBACK/PUBREC said "no matching subscribers" (0x10). */
  readonly #noSubscribers = new WeakSet<object>();
  #phase: "opening" | "open" | "closed" = "opening";
  /**
   * Node only (the browser build has no `tuneStream`). Under load (many requests in flight, or
   * several messages in one chunk), what a chunk from the broker causes (PUBACKs, the outbox's
   * next publishes, a call's next request) is written once, when this turn of the event loop
   * ends: mqtt.js releases its writes on process.nextTick, before the promise callbacks that
   * produce the rest, which costs a syscall each. Not when idle: a lone request would wait for
   * the turn to end. And our own writes (one-buffer PUBLISH packets, held PUBACKs) are corked
   * until the next tick, as mqtt.js corks its own: what one turn writes (a reply and its request's
   * PUBACK) leaves in one syscall.
   */
  readonly #corks: Corks | undefined;
  #refusal: number | undefined;
  /** Inbound PUBLISH packets numbered in arrival order (see FrameTracker), and the malformed ones. */
  #publishesParsed = 0;
  readonly #malformed = new WeakMap<object, GmqError>();
  /** A stream error without a code: mqtt.js's packet writer refused one of our packets. */
  #writeFailure: Error | undefined;
  #brokerDisconnect: number | undefined;
  #failure: GmqError | undefined;
  #settleOpen: { resolve(): void; reject(error: GmqError): void } | undefined;

  /** Resolves at CONNACK; rejects with a GmqError when the broker refuses or the socket fails. */
  static open(params: ConnectionParams): Promise<MqttConnection> {
    return new Promise((resolve, reject) => {
      const connection: MqttConnection = new MqttConnection(params, {
        resolve: () => resolve(connection),
        reject,
      });
    });
  }
  readonly #params: ConnectionParams;

  private constructor(params: ConnectionParams, settle: { resolve(): void; reject(error: GmqError): void }) {
    this.#params = params;
    const { options, version, credentials, signal } = params;
    this.mode = { version, envelope: options.envelope };
    this.#settleOpen = settle;
    this.#acks = new InboundAcks((bytes) => this.#writeRaw(bytes), options.redeliveryDelayMs, this.#deliver);
    this.#frames = frameTracker(options.maxPacketBytes, (bytes) => this.#oversize(bytes));
    if (signal.aborted) {
      this.#phase = "closed";
      this.#client = undefined as never;
      settle.reject(GmqError.from(signal.reason));
      return;
    }
    const clientOptions: IClientOptions = {
      protocolVersion: version,
      clientId: options.clientId,
      clean: options.clean,
      keepalive: options.keepalive,
      connectTimeout: options.connectTimeoutMs,
      reconnectPeriod: 0, // the core reconnects, with backoff
      resubscribe: false, // the core restores subscriptions
      queueQoSZero: false, // QoS 0 is never queued
      // Undefined ones are not sent. The password is text or a Node Buffer by now: see credentials.ts.
      username: credentials.username,
      password: credentials.password as Buffer | undefined,
      ...(version === 5 && {
        properties: {
          maximumPacketSize: options.maxPacketBytes,
          ...(options.sessionExpiryInterval > 0 && { sessionExpiryInterval: options.sessionExpiryInterval }),
        },
      }),
      incomingStore: params.incomingStore,
      ...(options.tls as Pick<IClientOptions, "ca" | "cert" | "key" | "rejectUnauthorized">),
    };
    const client = mqttjs.connect(params.url, clientOptions);
    this.#client = client;
    this.#corks = params.platform.tuneStream?.(client.stream);
    this.#fast = params.platform.fastPublisher?.(
      client,
      (client.constructor as { VERSION?: string }).VERSION,
      this.#write,
    );
    client.handleMessage = (packet, callback) => this.#onPublish(packet, callback);
    // mqtt.js logs every packet through `debug`, whose check alone costs a few percent of a
    // publish. When its namespace is off (no DEBUG=mqttjs*), a no-op does the same for free.
    if ((client.log as { enabled?: boolean }).enabled === false) client.log = () => {};
    // Before mqtt.js sees the bytes: track frames, and under load hold our writes to the turn's end.
    client.stream.prependListener("data", (chunk: Uint8Array) => {
      const before = this.#frames.publishes;
      this.#frames.feed(chunk);
      // Several PUBLISH packets in one chunk: as many PUBACKs follow (the core acks QoS 1 once
      // handled), written by us, not mqtt.js, so nothing else would coalesce them.
      if (this.#ops.size >= BUSY || this.#frames.publishes - before > 1) this.#corks?.holdWrites();
    });
    // mqtt.js asks this before it stores or acknowledges a QoS 1/2 message (it reads the option
    // at that time, so it is set here for 3.1.1 too, where its constructor would ignore it).
    client.options.customHandleAcks = (_topic, _message, packet, done) => {
      done(this.#malformed.get(packet) ?? 0);
    };
    client.on("packetreceive", (packet: Packet) => {
      if (packet.cmd === "publish") {
        const error = malformedPublish(packet, this.#frames.malformedTopic(this.#publishesParsed++));
        if (error) {
          this.#malformed.set(packet, error);
          this.#fail(error); // MQTT closes the connection on a malformed packet
        }
      } else if (packet.cmd === "connack") {
        const code = version === 5 ? packet.reasonCode : packet.returnCode;
        if (code) this.#refusal = code;
      } else if ((packet.cmd === "puback" || packet.cmd === "pubrec") && packet.reasonCode === 0x10) {
        // mqtt.js treats "no matching subscribers" as success and does not pass the ack on;
        // the pending entry still holds our callback, which is how we find the publish.
        const pending = client.outgoing[packet.messageId!];
        if (pending) this.#noSubscribers.add(pending.cb as never);
      } else if (packet.cmd === "disconnect") {
        this.#brokerDisconnect = packet.reasonCode ?? 0;
      }
    });
    client.on("connect", (connack) => {
      if (this.#phase !== "opening") return;
      this.#phase = "open";
      this.sessionPresent = connack.sessionPresent;
      signal.removeEventListener("abort", this.#onAbort);
      this.#settleOpen = undefined;
      settle.resolve();
    });
    // mqtt.js ignores stream errors without a code. Its packet writer raises one when it refuses a
    // field, destroying the socket before the packet is sent: kept, so that the close which
    // follows is not blamed on the broker (nor taken for a refusal of the protocol version).
    client.stream.on("error", (error: unknown) => {
      if (isPacketWriterRefusal(error)) this.#writeFailure ??= error as Error;
    });
    client.on("error", (error) => this.#onClientError(error));
    client.on("close", () => this.#onClose());
    signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  get alive(): boolean {
    return this.#phase === "open";
  }

  publish(message: OutboundMessage, signal: AbortSignal): Promise<void> {
    if (this.#phase !== "open") return Promise.reject(this.#deadError());
    if (signal.aborted) return Promise.reject(GmqError.from(signal.reason));
    let payload: Uint8Array;
    try {
      payload = wirePayload(message, this.mode);
    } catch (error) {
      return Promise.reject(error);
    }
    if (message.qos === 0) return this.#publishQos0(message, payload);
    return new Promise((resolve, reject) => {
      const op = this.#ops.track(signal, reject);
      const callback = (error?: Error) => {
        const noSubscribers = this.#noSubscribers.delete(callback);
        if (!this.#ops.untrack(op)) return; // already rejected (aborted, connection lost)
        const code = error ? (error as { code?: unknown }).code : noSubscribers ? 0x10 : undefined;
        if (typeof code === "number" && (code >= 0x80 || (code === 0x10 && message.replyTo !== undefined))) {
          reject(publishError(code, message.topic, message.replyTo !== undefined));
        } else if (error) {
          // "Connection closed", "client disconnecting": mqtt.js gave up on this socket.
          this.#die(nativeError(error, "disconnected"));
          reject(this.#deadError());
        } else {
          resolve();
        }
      };
      if (!this.#fast?.(message, payload, this.mode.version, callback)) {
        this.#client.publish(message.topic, payload as never, wireOptions(message, this.mode), callback);
      }
    });
  }

  /**
   * QoS 0 resolves once written. Without a callback mqtt.js adds no `drain` listener per message
   * (thousands of those make every drain O(n²)); one shared listener releases the waiters instead.
   */
  #publishQos0(message: OutboundMessage, payload: Uint8Array): Promise<void> {
    if (!this.#fast?.(message, payload, this.mode.version)) {
      this.#client.publish(message.topic, payload as never, wireOptions(message, this.mode));
    }
    if (this.#phase !== "open") return Promise.reject(this.#deadError());
    if (!(this.#client.stream as { writableNeedDrain?: boolean }).writableNeedDrain) return WRITTEN;
    return new Promise((resolve, reject) => {
      this.#drainWaiters.push({ resolve, reject });
      if (this.#drainWaiters.length === 1) this.#client.stream.once("drain", this.#onDrain);
    });
  }

  #onDrain = (): void => {
    const waiters = this.#drainWaiters.splice(0);
    for (const waiter of waiters) waiter.resolve();
  };

  subscribe(request: SubscribeRequest, signal: AbortSignal): Promise<void> {
    const filter = wireFilter(request);
    // A manual ack can hold only a QoS 1 delivery (see acks.ts).
    const qos = request.manualAck ? (Math.min(request.qos, 1) as 0 | 1) : request.qos;
    return this.#operation(signal, filter, (done) =>
      this.#client.subscribe(filter, { qos }, (error, granted, suback) =>
        // A refusal arrives as an error without the code; the SUBACK still has it.
        done(error, suback?.granted[0] ?? (error as { code?: unknown } | null)?.code ?? granted?.[0]?.qos),
      ),
    );
  }

  unsubscribe(request: SubscribeRequest, signal: AbortSignal): Promise<void> {
    const filter = wireFilter(request);
    return this.#operation(signal, filter, (done) =>
      this.#client.unsubscribe(filter, (error, packet) =>
        done(error, (packet as { granted?: number[] } | undefined)?.granted?.[0]),
      ),
    );
  }

  /** Polite close (DISCONNECT); never reported through `closed`. */
  close(): Promise<void> {
    if (this.#phase === "closed") return Promise.resolve();
    this.#shutDown(new GmqError("disconnected", "connection closed by the app"));
    const client = this.#client;
    // Settled above; drop them so end() does not wait for their acks.
    for (const id of Object.keys(client.outgoing)) client.removeOutgoingMessage(Number(id));
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        client.stream.destroy();
        resolve();
      }, 1_000);
      client.end(false, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Drop the socket at once, without DISCONNECT or events (a newer connection replaces it). */
  destroy(): void {
    if (this.#phase === "closed") return;
    this.#shutDown(new GmqError("disconnected", "connection replaced"));
    this.#client.end(true);
  }

  #onAbort = (): void => {
    this.#failOpen(GmqError.from(this.#params.signal.reason));
  };

  #failOpen(error: GmqError): void {
    const settle = this.#settleOpen;
    if (!settle) return;
    this.#settleOpen = undefined;
    this.#shutDown(error);
    this.#client.end(true);
    settle.reject(error);
  }

  #onClientError(error: unknown): void {
    if (this.#phase === "opening") {
      this.#failOpen(
        this.#refusal !== undefined
          ? connackError(this.#refusal)
          : (this.#params.platform.tlsError?.(error, this.#params.url) ?? nativeError(error, "protocol")),
      );
    } else if (isSocketError(error)) {
      // A reset, or a write after the peer left.
      this.#die(nativeError(error, "disconnected"));
    } else {
      // Malformed packet or protocol violation: the byte stream cannot be trusted any more.
      this.#fail(nativeError(error, "protocol"));
    }
  }

  #onClose(): void {
    const refused = this.#writeFailure;
    const cut =
      this.#frames.midPacket &&
      new GmqError(
        "protocol",
        `the broker closed the connection in the middle of ${this.#frames.describe()}`,
      );
    if (refused) {
      this.#fail(
        new GmqError(
          "invalid_argument",
          `mqtt.js could not write ${this.#phase === "opening" ? "the CONNECT packet" : "a packet"}: ${refused.message}`,
          { cause: refused },
        ),
      );
    } else if (this.#phase === "opening") {
      this.#failOpen(
        cut ||
          new GmqError("disconnected", "the broker closed the connection before CONNACK", {
            reason: CLOSED_BEFORE_CONNACK,
          }),
      );
    } else if (cut) {
      this.#fail(cut, cut.message);
    } else {
      this.#die(this.#disconnectCause());
    }
  }

  /** The broker sent a packet over the limit: refuse it from its header and drop the connection. */
  #oversize(bytes: number): void {
    const limit = this.#params.options.maxPacketBytes;
    const error = new GmqError(
      "protocol",
      `the broker sent a packet of ${bytes} bytes, over maxPacketBytes (${limit})`,
      { reason: "PACKET_TOO_LARGE", details: { bytes, limit } },
    );
    this.#params.sink.onError(error);
    if (this.#phase === "opening") {
      this.#failure = error;
      this.#client.end(true);
      return;
    }
    this.#die(new GmqError("disconnected", error.message, { cause: error, reason: "PACKET_TOO_LARGE" }));
    (this.#client.stream as { destroy?: () => void }).destroy?.();
  }

  /**
   * A failure that ends the connection (a malformed packet, a protocol violation): before CONNACK
   * it fails the open; once open, the app hears of it, then the connection is dropped (as `message`).
   */
  #fail(error: GmqError, message = `connection dropped: ${error.message}`): void {
    if (this.#phase === "opening") {
      this.#failOpen(error);
    } else if (this.#phase === "open") {
      this.#params.sink.onError(error);
      this.#die(new GmqError("disconnected", message, { cause: error }));
    }
  }

  /**
   * The connection is lost: settle everything and tell the core in the same tick. Rejecting
   * publishes with `disconnected` while the core still believes the link is up would make it
   * resend them straight into the dead connection.
   */
  #die(cause: GmqError): void {
    if (this.#phase !== "open") return;
    this.#shutDown(cause);
    this.#client.end(true);
    this.#params.closed(cause);
  }

  #disconnectCause(): GmqError {
    const code = this.#brokerDisconnect;
    return code === undefined
      ? new GmqError("disconnected", "the broker closed the connection")
      : reasonError("disconnected", "the broker disconnected", code);
  }

  #shutDown(cause: GmqError): void {
    this.#phase = "closed";
    this.#failure ??= cause;
    this.#params.signal.removeEventListener("abort", this.#onAbort);
    this.#acks.close();
    const error = this.#deadError();
    this.#ops.rejectAll(error);
    for (const waiter of this.#drainWaiters.splice(0)) waiter.reject(error);
  }

  #deadError(): GmqError {
    const cause = this.#failure;
    return cause?.code === "disconnected"
      ? cause
      : new GmqError("disconnected", `not connected${cause ? `: ${cause.message}` : ""}`, { cause });
  }

  /** Inbound PUBLISH (QoS 0/1 on arrival, QoS 2 on PUBREL). mqtt.js acks when we call back. */
  #onPublish(packet: IPublishPacket, callback: (error?: Error) => void): void {
    if (this.#phase === "closed" || this.#malformed.has(packet)) {
      callback(HELD); // gone: the broker redelivers
      return;
    }
    if (packet.qos !== 1) {
      // QoS 0 has no ack; QoS 2 is complete at the broker by now (see acks.ts).
      this.#deliver(fromWire(packet, this.mode, this.#onWireError));
      callback();
      return;
    }
    const id = packet.messageId!;
    if (!this.#params.needsAck(packet.topic)) {
      this.#deliver(fromWire(packet, this.mode, this.#onWireError));
      if (this.#acks.blocking) {
        this.#acks.pass(id); // its turn comes after the held ones
        callback(HELD);
      } else {
        callback();
      }
      return;
    }
    const held = this.#acks.hold(id);
    callback(HELD);
    this.#deliver(fromWire(packet, this.mode, this.#onWireError, held));
  }

  readonly #deliver = (message: InboundMessage): void => {
    if (this.#phase !== "closed") this.#params.sink.onMessage(message);
  };

  readonly #onWireError = (error: unknown): void => {
    this.#params.sink.onError(GmqError.from(error, "protocol"));
  };

  #writeRaw(bytes: Uint8Array): void {
    if (this.#phase === "open" && this.#client.connected) this.#write(bytes);
  }

  readonly #write = (bytes: Uint8Array): void => {
    this.#corks?.corkTick();
    (this.#client.stream as { write(b: Uint8Array): void }).write(bytes);
  };

  /**
   * Runs one acknowledged request (SUBSCRIBE, UNSUBSCRIBE) on `filter` and settles it exactly
   * once, refused when its ack's reason code (`done`'s second argument) is a failure.
   */
  #operation(
    signal: AbortSignal,
    filter: string,
    start: (done: (error: unknown, code: unknown) => void) => void,
  ): Promise<void> {
    if (this.#phase !== "open") return Promise.reject(this.#deadError());
    if (signal.aborted) return Promise.reject(GmqError.from(signal.reason));
    return new Promise((resolve, reject) => {
      const op = this.#ops.track(signal, reject);
      start((error, code) => {
        if (!this.#ops.untrack(op)) return;
        if (typeof code === "number" && code >= 0x80) reject(subackError(code, filter));
        else if (error === undefined || error === null) resolve();
        else reject(this.#phase === "open" ? nativeError(error, "protocol") : this.#deadError());
      });
    });
  }
}

/**
 * mqtt-packet's writer refuses a field (an invalid password, a missing client id…) with one of these
 * messages and no error code. Anything else on the stream (a browser WebSocket's bare "WebSocket
 * error", a socket reset) is the network, which is retried.
 */
const PACKET_WRITER_REFUSAL = /^(Invalid |Unknown command$|Username is required|clientId must be)/;

function isPacketWriterRefusal(error: unknown): boolean {
  return (
    error instanceof Error &&
    typeof (error as { code?: unknown }).code !== "string" &&
    PACKET_WRITER_REFUSAL.test(error.message)
  );
}

function wireFilter(request: SubscribeRequest): string {
  return request.queue === undefined ? request.pattern : `$share/${request.queue}/${request.pattern}`;
}
