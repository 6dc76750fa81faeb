/**
 * One client connection as the gate's agent runs it (spec §2.3–§2.5): CONNECT within the
 * deadline, the idle deadline D after every inbound packet, the per-packet reactions, the worker
 * pool of 20 and the per-connection trace id. Transports (TCP, WebSocket) only move bytes.
 */

import { envelope } from "./go-json.js";
import {
  concatBytes,
  encodeAck,
  encodeConnack,
  encodePingresp,
  encodePublishParts,
  encodeSuback,
  type InboundPacket,
  PUBACK,
  PUBCOMP,
  PUBREC,
  PUBREL,
  parsePacket,
  UNSUBACK,
} from "./packets.js";
import {
  CONNECT_DEADLINE_S,
  idleDeadlineSeconds,
  type MqantProfile,
  rejectsShortPayload,
  WORKER_POOL_SIZE,
} from "./profile.js";
import { type Network, randomHex16, type SessionState } from "./session.js";

/** A byte pipe to one client. `parts` are the separate writes Go makes for one packet. */
export interface Transport {
  readonly network: Network;
  /** `ip:port` of the peer. */
  readonly remoteAddress: string;
  /** Sent by a WebSocket client; copied into the session on the master profile. */
  readonly userAgent?: string;
  write(parts: readonly Uint8Array[]): void;
  /** Server-initiated close: no MQTT packet (WS still sends its close frame). */
  close(): void;
  /** Fault injection: drop the socket at once, no goodbye of any kind. */
  destroy(): void;
}

/** What a connection needs from the gate. */
export interface ConnectionHost {
  readonly profile: MqantProfile;
  readonly timeScale: number;
  readonly maxPackSize: number;
  /** Node id of the gate, stored in every session. */
  readonly serverId: string;
  /** The CONNECT was accepted: the session now exists. */
  opened(conn: Connection): void;
  /** The socket is gone (either side), before or after CONNECT. */
  closed(conn: Connection): void;
  /** Route one PUBLISH (spec §3). A returned promise keeps the worker slot busy until it settles. */
  dispatch(conn: Connection, topic: string, payload: Uint8Array): Promise<void> | undefined;
}

export const WORK_QUEUE_FULL = "the work queue is full!";

type Phase = "awaiting-connect" | "open" | "closed";

export class Connection {
  /** 16 hex chars, one per connection: the same in every reply on it (not per request). */
  readonly trace = randomHex16();
  session: SessionState | undefined;
  /** Keep-alive from the last CONNECT, in seconds (0 is treated as 60 by the deadline rule). */
  keepAlive = 0;
  #phase: Phase = "awaiting-connect";
  #buffer: Uint8Array = new Uint8Array(0);
  #deadline: NodeJS.Timeout | undefined;
  #busySlots = 0;

  constructor(
    private readonly host: ConnectionHost,
    private readonly transport: Transport,
  ) {
    this.#arm(CONNECT_DEADLINE_S);
  }

  get isClosed(): boolean {
    return this.#phase === "closed";
  }

  /** Feed inbound bytes. WS frames (text or binary) and TCP chunks all land here as one stream. */
  feed(chunk: Uint8Array): void {
    if (this.#phase === "closed") return;
    this.#buffer = this.#buffer.length === 0 ? chunk : concatBytes([this.#buffer, chunk]);
    let pos = 0;
    // Handling a packet can close the connection; stop reading then.
    while (!this.isClosed) {
      const parsed = parsePacket(this.#buffer, pos, {
        maxPackSize: this.host.maxPackSize,
        shortPayloadIsError: rejectsShortPayload(this.host.profile),
      });
      if (parsed.status === "incomplete") break;
      if (parsed.status === "error") {
        this.close();
        return;
      }
      pos += parsed.consumed;
      this.#handle(parsed.packet);
    }
    this.#buffer = this.#buffer.subarray(pos);
  }

  /** Write a QoS-0 PUBLISH (reply or push). Returns false once the connection is closed. */
  writePublish(topic: string, payload: Uint8Array): boolean {
    if (this.#phase === "closed") return false;
    this.transport.write(encodePublishParts(topic, payload));
    return true;
  }

  /** Server-initiated close (parse error, deadline, pool crash, session close, shutdown). */
  close(): void {
    if (this.#phase === "closed") return;
    this.#shutdown();
    this.transport.close();
  }

  /** Fault injection: drop the socket with no close frame or FIN handshake. */
  destroy(): void {
    if (this.#phase === "closed") return;
    this.#shutdown();
    this.transport.destroy();
  }

  /** The transport reports the socket is gone. */
  transportClosed(): void {
    if (this.#phase === "closed") return;
    this.#shutdown();
  }

  #shutdown(): void {
    this.#phase = "closed";
    clearTimeout(this.#deadline);
    this.#buffer = new Uint8Array(0);
    this.host.closed(this);
  }

  /** (Re)arm the read deadline. Only complete inbound packets do this; outbound traffic never does. */
  #arm(seconds: number): void {
    clearTimeout(this.#deadline);
    this.#deadline = setTimeout(() => this.close(), seconds * 1000 * this.host.timeScale);
    this.#deadline.unref?.();
  }

  #send(bytes: Uint8Array): void {
    if (this.#phase !== "closed") this.transport.write([bytes]);
  }

  #handle(packet: InboundPacket): void {
    if (this.#phase === "awaiting-connect") {
      if (packet.type !== "connect") {
        this.close();
        return;
      }
      this.#phase = "open";
      this.keepAlive = packet.keepAlive;
      this.session = {
        ip: this.transport.remoteAddress,
        network: this.transport.network,
        sessionId: randomHex16(),
        serverId: this.host.serverId,
        traceId: this.trace,
        userId: "",
        settings:
          this.host.profile === "master" && this.transport.network === "websocket"
            ? { "User-Agent": this.transport.userAgent ?? "" }
            : {},
      };
      this.host.opened(this);
      this.#send(encodeConnack());
      this.#armIdle();
      return;
    }
    switch (packet.type) {
      case "connect":
        // A repeated CONNECT only updates the keep-alive; the session and trace stay.
        this.keepAlive = packet.keepAlive;
        this.#send(encodeConnack());
        break;
      case "publish":
        if (packet.qos === 1) this.#send(encodeAck(PUBACK, packet.messageId));
        else if (packet.qos === 2) this.#send(encodeAck(PUBREC, packet.messageId));
        this.#submitPublish(packet.topic, packet.payload);
        break;
      case "pubrec":
        this.#send(encodeAck(PUBREL, packet.messageId));
        break;
      case "pubrel":
        this.#send(encodeAck(PUBCOMP, packet.messageId));
        break;
      case "subscribe":
        // Only QoS-2 filters are acknowledged, one SUBACK each; subscriptions filter nothing.
        for (const t of packet.topics) if (t.qos === 2) this.#send(encodeSuback(packet.messageId));
        this.#submitInstant();
        break;
      case "unsubscribe":
        this.#send(encodeAck(UNSUBACK, packet.messageId));
        this.#submitInstant();
        break;
      case "pingreq":
        this.#send(encodePingresp(packet.dup));
        this.#submitInstant();
        break;
      default:
        // PUBACK, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT (ignored: the socket stays open), others.
        break;
    }
    this.#armIdle();
  }

  #armIdle(): void {
    if (this.#phase === "open") this.#arm(idleDeadlineSeconds(this.host.profile, this.keepAlive));
  }

  /** PINGREQ/SUBSCRIBE/UNSUBSCRIBE take a slot and free it at once; a full pool crashes the read loop. */
  #submitInstant(): void {
    if (this.#busySlots >= WORKER_POOL_SIZE) this.close();
  }

  #submitPublish(topic: string, payload: Uint8Array): void {
    if (this.#busySlots >= WORKER_POOL_SIZE) {
      // Even a notify gets this reply.
      this.writePublish(topic, envelope(this.trace, WORK_QUEUE_FULL));
      return;
    }
    this.#busySlots++;
    const release = () => {
      this.#busySlots--;
    };
    let pending: Promise<void> | undefined;
    try {
      pending = this.host.dispatch(this, topic, payload);
    } catch {
      pending = undefined;
    }
    if (pending) pending.catch(() => {}).finally(release);
    else release();
  }
}
