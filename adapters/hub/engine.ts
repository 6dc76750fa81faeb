/**
 * The engine holds everything several hub processes share: fan-out of published messages to
 * every hub with a matching subscription, queue groups across hubs, call routing, the kept
 * history of each topic stream and the exactly-once high-water marks. A hub keeps only its own
 * connections; it tells the engine which patterns it is interested in and the engine delivers.
 *
 * `memoryEngine()` serves hubs in one process; `natsEngine()` serves hubs anywhere, on NATS
 * subjects (fan-out, queue groups, calls) and JetStream (history, high-water marks).
 */
import type { StreamPosition, WireError, WirePayload } from "./protocol.js";

/** A message as published, before the engine gave it a place in its topic stream. */
export interface EngineMessage extends WirePayload {
  readonly topic: string;
  readonly id?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly replyTo?: string;
  readonly correlationId?: string;
}

/** A message with its place in the topic stream. `prev` is the offset of the message before it
 *  in the same topic stream (0 for the first), so a receiver can tell a gap. */
export interface StoredMessage extends EngineMessage {
  readonly epoch: string;
  readonly offset: number;
  readonly prev: number;
}

/** Exactly-once identity of a publish: the sender and its outbox sequence number. */
export interface PublishIdentity {
  readonly clientId: string;
  readonly seq: number;
}

export interface PublishOutcome {
  /** Absent for a duplicate whose place the engine no longer knows. */
  readonly epoch?: string;
  readonly offset?: number;
  /** The identity was accepted before: nothing was applied this time. */
  readonly duplicate: boolean;
}

export interface Recovery {
  /** True when `messages` is every message after the asked position (none missing). */
  readonly recovered: boolean;
  /** The messages after the asked position, oldest first (empty when not recovered). */
  readonly messages: readonly StoredMessage[];
  /** The position after them: where live delivery continues. */
  readonly position: StreamPosition;
}

export interface CallRequest extends WirePayload {
  readonly service: string;
  readonly method: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** A call's outcome: a reply payload, or an error in wire form. */
export type CallResult =
  | ({ readonly ok: true; readonly headers?: Readonly<Record<string, string>> } & WirePayload)
  | { readonly ok: false; readonly error: WireError };

/** An interest: a subscription pattern, with a queue group for load-balanced delivery. */
export interface Interest {
  readonly pattern: string;
  readonly queue?: string;
}

/** What a hub gives its engine: where to deliver. */
export interface EngineHost {
  /** A message for `interest`. For a queue interest the engine picked this hub for it. */
  deliver(interest: Interest, message: StoredMessage, redelivered: boolean): void;
  /** Serve a call with a local handler. */
  serveCall(request: CallRequest): Promise<CallResult>;
  /** Whether this hub has a handler for the method now. */
  handles(service: string, method: string): boolean;
  /** Take a requeued message for a queue group if this hub has a member now. */
  takeRequeued(interest: Interest, message: StoredMessage): boolean;
}

export interface HubEngine {
  /** Called once per hub using the engine; several hubs may share one memory engine. */
  attach(host: EngineHost): Promise<EngineSession>;
}

/** One hub's handle on the engine. */
export interface EngineSession {
  /** The history every topic stream keeps (announced to clients). */
  readonly history: Required<HistoryLimits>;
  publish(message: EngineMessage, identity?: PublishIdentity): Promise<PublishOutcome>;
  /** The exactly-once high-water mark of a client (0 when unknown). */
  lastSeq(clientId: string): Promise<number>;
  /** Start delivering messages that match; resolves once deliveries are certain to arrive. */
  addInterest(interest: Interest): Promise<void>;
  removeInterest(interest: Interest): Promise<void>;
  /** Hand a message back to its queue group on another hub; false when no hub has a member. */
  requeue(interest: Interest, message: StoredMessage): Promise<boolean>;
  /** The current position of a topic stream. */
  position(topic: string): Promise<StreamPosition>;
  /** Every message after `since`, or `recovered: false` when that cannot be given in full. */
  recover(topic: string, since: StreamPosition): Promise<Recovery>;
  addHandler(service: string, method: string): Promise<void>;
  removeHandler(service: string, method: string): Promise<void>;
  /** Route a call to some hub's handler; `no_responder` when none, `timeout` past the deadline. */
  call(request: CallRequest): Promise<CallResult>;
  /** Detach this hub. */
  close(): Promise<void>;
}

/** How long and how much history a topic stream keeps. */
export interface HistoryLimits {
  /** Messages kept per topic stream. Default 1000. */
  maxMessages?: number;
  /** Age after which a kept message is dropped. Default 10 minutes. */
  maxAgeMs?: number;
}

export const DEFAULT_HISTORY = { maxMessages: 1000, maxAgeMs: 10 * 60_000 } as const;

export function interestKey(interest: Interest): string {
  return interest.queue === undefined
    ? `\u0000${interest.pattern}`
    : `${interest.queue}\u0000${interest.pattern}`;
}

export function callKey(service: string, method: string): string {
  return `${service}\u0000${method}`;
}

export function wireError(code: WireError["code"], message: string, reason?: string): WireError {
  return reason === undefined ? { code, message } : { code, message, reason };
}
