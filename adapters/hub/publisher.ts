/**
 * A connection's publishes: applied strictly in the order received, one after the other, with
 * the exactly-once rules of `(clientId, seq)`. When applying a `seq` fails, later seqs of the
 * same client are refused (`busy`, `out_of_order`) until that one is sent again, so a retry can
 * never land behind a newer message and be taken for a duplicate.
 */
import { type EngineMessage, type EngineSession, wireError } from "./engine.js";
import type { AuthorizeRequest } from "./options.js";
import type { HubFrame, PublishFrame, WireError } from "./protocol.js";

type Rid = string | number;

export interface PublisherOwner {
  readonly open: boolean;
  readonly clientId: string | undefined;
  /** `clientId`: the outbox the publish names, when it names one. */
  allowed(request: AuthorizeRequest, clientId: string | undefined): Promise<boolean>;
  frame(frame: HubFrame): void;
  fail(rid: Rid, error: WireError): void;
  onError(error: unknown): void;
}

export class Publisher {
  private chain: Promise<void> = Promise.resolve();
  /** clientId → the seq that failed and must come again first. */
  private readonly blocked = new Map<string, number>();

  constructor(
    private readonly engine: EngineSession,
    private readonly owner: PublisherOwner,
  ) {}

  publish(frame: PublishFrame): void {
    this.chain = this.chain.then(() => this.apply(frame));
  }

  private async apply(frame: PublishFrame): Promise<void> {
    if (!this.owner.open) return;
    const { rid, seq } = frame;
    // A QoS 0 publish without rid has nowhere to report a failure to.
    const fail = (error: WireError) => {
      if (rid !== undefined) this.owner.fail(rid, error);
    };
    try {
      const clientId = frame.clientId ?? this.owner.clientId;
      if (seq !== undefined) {
        if (clientId === undefined) {
          return fail({ ...wireError("invalid_argument", "seq: needs a clientId"), field: "seq" });
        }
        const blocked = this.blocked.get(clientId);
        if (blocked !== undefined && seq > blocked) {
          return fail(wireError("busy", `send seq ${blocked} again first`, "out_of_order"));
        }
        if (seq === blocked) this.blocked.delete(clientId);
      }
      if (!(await this.owner.allowed({ action: "publish", topic: frame.topic }, clientId))) {
        return fail(wireError("forbidden", `not allowed to publish to ${frame.topic}`));
      }
      const message: { -readonly [K in keyof EngineMessage]: EngineMessage[K] } = { topic: frame.topic };
      if (frame.payload !== undefined) message.payload = frame.payload;
      if (frame.enc !== undefined) message.enc = frame.enc;
      if (frame.id !== undefined) message.id = frame.id;
      if (frame.headers !== undefined) message.headers = frame.headers;
      if (frame.replyTo !== undefined) message.replyTo = frame.replyTo;
      if (frame.correlationId !== undefined) message.correlationId = frame.correlationId;
      let outcome: Awaited<ReturnType<EngineSession["publish"]>>;
      try {
        outcome = await this.engine.publish(
          message,
          seq === undefined ? undefined : { clientId: clientId!, seq },
        );
      } catch (error) {
        if (seq !== undefined) this.blocked.set(clientId!, seq);
        this.owner.onError(error);
        return fail(wireError("busy", "the hub could not store the message; send it again", "engine"));
      }
      if (frame.qos === 0 || rid === undefined || !this.owner.open) return;
      const puback: HubFrame & { type: "puback" } = { type: "puback", rid };
      if (outcome.epoch !== undefined) puback.epoch = outcome.epoch;
      if (outcome.offset !== undefined) puback.offset = outcome.offset;
      if (outcome.duplicate) puback.duplicate = true;
      this.owner.frame(puback);
    } catch (error) {
      this.owner.onError(error);
      fail(wireError("busy", "internal error; try again", "internal"));
    }
  }
}
