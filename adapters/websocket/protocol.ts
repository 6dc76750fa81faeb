/**
 * The gmq hub wire protocol, version 1 (`docs/websocket-protocol.md` is the normative text).
 * Types and constants only, with no imports, so a client can share this file as it is.
 */

/** The WebSocket subprotocol a client offers and the hub selects. */
export const SUBPROTOCOL = "gmq.v1.json";
export const PROTOCOL_VERSION = 1;

/**
 * Close codes. 4000–4099: do not reconnect until something changes. 4100–4199: reconnect at once
 * (no backoff). 4200–4299: reconnect with backoff. Plus the standard 1000, 1003 and 1009.
 */
export const CloseCode = {
  /** Standard: the client or hub closed on purpose. */
  normal: 1000,
  /** Standard: a binary frame (this subprotocol is text only). */
  unsupportedData: 1003,
  /** Standard: a frame over `maxFrameBytes`. */
  frameTooBig: 1009,
  protocolError: 4000,
  unauthenticated: 4001,
  unsupportedProtocol: 4002,
  forbidden: 4003,
  shutdown: 4100,
  tokenExpired: 4101,
  heartbeatTimeout: 4200,
  slowConsumer: 4201,
  rateLimited: 4202,
  connectTimeout: 4203,
  internalError: 4204,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** What a client should do after a close code (see the protocol document, "Close codes"). */
export function closeAction(code: number): "stop" | "reconnect_now" | "reconnect_backoff" {
  if (code === CloseCode.normal || code === CloseCode.unsupportedData) return "stop";
  if (code >= 4000 && code < 4100) return "stop";
  if (code >= 4100 && code < 4200) return "reconnect_now";
  return "reconnect_backoff";
}

/** Error codes carried by `error` frames: gmq's `ErrorCode` names. */
export type WireErrorCode =
  | "timeout"
  | "no_responder"
  | "remote"
  | "protocol"
  | "invalid_argument"
  | "unsupported"
  | "unauthenticated"
  | "forbidden"
  | "busy"
  | "payload_too_large"
  | "disconnected";

/** A payload is UTF-8 text as it is, or bytes in standard base64 with `enc: "b64"`. */
export interface WirePayload {
  payload?: string;
  enc?: "b64";
}

export interface WireError {
  code: WireErrorCode;
  message: string;
  reason?: string;
  details?: unknown;
  field?: string;
}

/** A position in a topic stream. */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

// ---- client → hub ----

export interface ConnectFrame {
  type: "connect";
  token?: string;
  clientId?: string;
  client?: { name?: string; version?: string };
}

export interface PublishFrame extends WirePayload {
  type: "publish";
  rid?: string | number;
  topic: string;
  id?: string;
  headers?: Record<string, string>;
  replyTo?: string;
  correlationId?: string;
  /** 1 (default): answer `puback`; 0: no answer unless it fails and `rid` is set. */
  qos?: 0 | 1;
  /** Exactly-once: the sender's outbox sequence number. */
  seq?: number;
  /** Exactly-once: whose outbox `seq` counts in; default the `clientId` of `connect`. */
  clientId?: string;
}

export interface SubscribeFrame {
  type: "subscribe";
  rid: string | number;
  sub: string;
  pattern: string;
  queue?: string;
  ack?: "auto" | "manual";
  maxInFlight?: number;
  recover?: StreamPosition;
}

export interface UnsubscribeFrame {
  type: "unsubscribe";
  rid: string | number;
  sub: string;
}

export interface AckFrame {
  type: "ack";
  tag: number;
}

export interface NackFrame {
  type: "nack";
  tag: number;
  requeue?: boolean;
}

export interface CallFrame extends WirePayload {
  type: "call";
  rid: string | number;
  service: string;
  method: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface HandleFrame {
  type: "handle";
  rid: string | number;
  service: string;
  method: string;
}

export interface UnhandleFrame {
  type: "unhandle";
  rid: string | number;
  service: string;
  method: string;
}

export interface ResponseFrame extends WirePayload {
  type: "response";
  req: string;
  headers?: Record<string, string>;
  error?: { code?: string; message?: string; reason?: string; details?: unknown };
}

export interface RefreshFrame {
  type: "refresh";
  rid: string | number;
  token: string;
}

export interface PingFrame {
  type: "ping";
}

export interface PongFrame {
  type: "pong";
}

export type ClientFrame =
  | ConnectFrame
  | PublishFrame
  | SubscribeFrame
  | UnsubscribeFrame
  | AckFrame
  | NackFrame
  | CallFrame
  | HandleFrame
  | UnhandleFrame
  | ResponseFrame
  | RefreshFrame
  | PingFrame
  | PongFrame;

// ---- hub → client ----

export interface ConnectedFrame {
  type: "connected";
  v: typeof PROTOCOL_VERSION;
  session: string;
  clientId?: string;
  userId?: string;
  /** Exactly-once high-water mark for `clientId`: every seq ≤ it was accepted. 0 when none. */
  lastSeq: number;
  expiresAt?: number;
  pingIntervalMs: number;
  pingGraceMs: number;
  maxFrameBytes: number;
  rate: { perSecond: number; burst: number };
  history: { maxMessages: number; maxAgeMs: number };
  limits: { maxSubscriptions: number; maxInFlight: number; maxCallTimeoutMs: number };
}

export interface PubackFrame {
  type: "puback";
  rid: string | number;
  epoch?: string;
  offset?: number;
  duplicate?: true;
}

export interface SubscribedFrame {
  type: "subscribed";
  rid: string | number;
  sub: string;
  recovered?: boolean;
  epoch?: string;
  offset?: number;
}

export interface MessageFrame extends WirePayload {
  type: "message";
  sub: string;
  topic: string;
  id?: string;
  headers?: Record<string, string>;
  replyTo?: string;
  correlationId?: string;
  epoch?: string;
  offset?: number;
  tag?: number;
  redelivered?: true;
}

export interface RequestFrame extends WirePayload {
  type: "request";
  req: string;
  service: string;
  method: string;
  headers?: Record<string, string>;
  timeoutMs: number;
}

export interface ReplyFrame extends WirePayload {
  type: "reply";
  rid: string | number;
  headers?: Record<string, string>;
}

export interface ErrorFrame extends WireError {
  type: "error";
  rid?: string | number;
}

export type HubFrame =
  | ConnectedFrame
  | PubackFrame
  | SubscribedFrame
  | { type: "unsubscribed"; rid?: string | number; sub: string; error?: WireError }
  | MessageFrame
  | ReplyFrame
  | RequestFrame
  | { type: "handling"; rid: string | number }
  | { type: "unhandled"; rid: string | number }
  | { type: "refreshed"; rid: string | number; expiresAt?: number }
  | PingFrame
  | PongFrame
  | ErrorFrame;
