/**
 * Topic streams in one JetStream stream, one subject per topic. The offset of a message is its
 * stream sequence (increasing per topic, not contiguous); the epoch is the stream's creation
 * time, so a stream deleted and made again has a new epoch. Every stored message records `prev`,
 * the offset of the message before it in the same topic: appends per topic are serialised with
 * JetStream's expected-last-subject-sequence, so the chain is exact across hubs. That is what
 * lets recovery prove nothing is missing after a position, even when older messages of the topic
 * were trimmed by count or age.
 */
import type { JetStreamClient, JetStreamManager, PubAck, StoredMsg } from "@nats-io/jetstream";
import type { EngineMessage, Recovery, StoredMessage } from "./engine.js";
import type { StreamPosition } from "./protocol.js";

const WRONG_LAST_SEQUENCE = 10071;
const MAX_APPEND_TRIES = 50;
const MAX_CACHED_TOPICS = 10_000;

/** The body of a stored message (short keys: it is stored once per message). */
interface Body {
  t: string;
  v: number;
  p?: string;
  e?: "b64";
  i?: string;
  h?: Record<string, string>;
  r?: string;
  c?: string;
}

export function encodeBody(message: EngineMessage, prev: number): string {
  const body: Body = { t: message.topic, v: prev };
  if (message.payload !== undefined) body.p = message.payload;
  if (message.enc !== undefined) body.e = message.enc;
  if (message.id !== undefined) body.i = message.id;
  if (message.headers !== undefined) body.h = { ...message.headers };
  if (message.replyTo !== undefined) body.r = message.replyTo;
  if (message.correlationId !== undefined) body.c = message.correlationId;
  return JSON.stringify(body);
}

export function decodeBody(text: string, epoch: string, offset: number): StoredMessage {
  const body = JSON.parse(text) as Body;
  if (typeof body.t !== "string" || typeof body.v !== "number") throw new Error("not a gmq hub message");
  const message: { -readonly [K in keyof StoredMessage]: StoredMessage[K] } = {
    topic: body.t,
    epoch,
    offset,
    prev: body.v,
  };
  if (body.p !== undefined) message.payload = body.p;
  if (body.e !== undefined) message.enc = body.e;
  if (body.i !== undefined) message.id = body.i;
  if (body.h !== undefined) message.headers = body.h;
  if (body.r !== undefined) message.replyTo = body.r;
  if (body.c !== undefined) message.correlationId = body.c;
  return message;
}

export class NatsHistory {
  private readonly lastOffsets = new Map<string, number>();
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    readonly epoch: string,
    private readonly maxMessages: number,
  ) {}

  /** Stores a message at the end of its topic stream; appends to one topic run one at a time. */
  append(subject: string, message: EngineMessage, msgID: string | undefined): Promise<PubAck> {
    const before = this.tails.get(subject) ?? Promise.resolve();
    const run = before.then(
      () => this.appendNow(subject, message, msgID),
      () => this.appendNow(subject, message, msgID),
    );
    const tail = run.catch(() => {});
    this.tails.set(subject, tail);
    void tail.then(() => {
      if (this.tails.get(subject) === tail) this.tails.delete(subject);
    });
    return run;
  }

  async position(subject: string): Promise<StreamPosition> {
    const last = await this.jsm.streams.getMessage(this.stream, { last_by_subj: subject });
    if (last) return { epoch: this.epoch, offset: last.seq };
    // An empty topic: the stream's end is as good a position as any, and recovers exactly.
    const info = await this.jsm.streams.info(this.stream);
    return { epoch: this.epoch, offset: info.state.last_seq };
  }

  async recover(subject: string, since: StreamPosition): Promise<Recovery> {
    const lost = async (): Promise<Recovery> => ({
      recovered: false,
      messages: [],
      position: await this.position(subject),
    });
    if (since.epoch !== this.epoch) return lost();
    const { first_seq: firstSeq, last_seq: lastSeq } = (await this.jsm.streams.info(this.stream)).state;
    if (since.offset > lastSeq) return lost();
    const messages: StoredMessage[] = [];
    let cursor = since.offset + 1;
    // History is bounded per topic; the margin covers messages stored while we read.
    const cap = this.maxMessages * 2 + 1000;
    while (messages.length < cap) {
      const stored = await this.next(subject, cursor);
      if (!stored) break;
      const message = decodeBody(stored.string(), this.epoch, stored.seq);
      // The first message after the position must follow it directly, or some were trimmed.
      if (messages.length === 0 && message.prev > since.offset) return lost();
      messages.push(message);
      cursor = stored.seq + 1;
    }
    if (messages.length === 0 && since.offset < firstSeq - 1) {
      // Nothing newer is kept: fine if the topic's newest message (≤ position) is still there;
      // otherwise age may have taken messages after the position too.
      const last = await this.jsm.streams.getMessage(this.stream, { last_by_subj: subject });
      if (!last) return lost();
    }
    const end = messages.length > 0 ? messages[messages.length - 1]!.offset : since.offset;
    return { recovered: true, messages, position: { epoch: this.epoch, offset: end } };
  }

  private next(subject: string, seq: number): Promise<StoredMsg | null> {
    // `next_by_subj` is in the server's STREAM.MSG.GET since 2.9; the client types only list it for direct gets.
    return this.jsm.streams.getMessage(this.stream, { seq, next_by_subj: subject } as unknown as {
      seq: number;
    });
  }

  private async appendNow(
    subject: string,
    message: EngineMessage,
    msgID: string | undefined,
  ): Promise<PubAck> {
    for (let attempt = 0; attempt < MAX_APPEND_TRIES; attempt++) {
      const prev = this.lastOffsets.get(subject) ?? (await this.lastOffset(subject));
      try {
        const ack = await this.js.publish(subject, encodeBody(message, prev), {
          expect: { lastSubjectSequence: prev },
          ...(msgID === undefined ? {} : { msgID }),
        });
        if (!ack.duplicate) this.remember(subject, ack.seq);
        return ack;
      } catch (error) {
        // Another hub appended to this topic since we looked: look again.
        if ((error as { code?: number }).code !== WRONG_LAST_SEQUENCE) throw error;
        this.lastOffsets.delete(subject);
      }
    }
    throw new Error(`could not append to ${subject}: too much contention`);
  }

  private async lastOffset(subject: string): Promise<number> {
    const last = await this.jsm.streams.getMessage(this.stream, { last_by_subj: subject });
    return last?.seq ?? 0;
  }

  private remember(subject: string, offset: number): void {
    this.lastOffsets.delete(subject);
    this.lastOffsets.set(subject, offset);
    if (this.lastOffsets.size > MAX_CACHED_TOPICS) {
      const oldest = this.lastOffsets.keys().next().value;
      if (oldest !== undefined) this.lastOffsets.delete(oldest);
    }
  }
}
