/**
 * gmqtest.Ticker, the TEST-ONLY service next to CommentService: a server stream the tests can
 * pace, fail or kill mid-way, and a unary echo of the metadata the server received.
 */

import { setTimeout as delay } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, type ServiceImpl } from "@connectrpc/connect";
import { EchoReplySchema, FailDetailSchema, type Ticker, TickSchema } from "./generated/gmqtest_pb.js";

/** Lets a running stream be cut like a network failure: the HTTP connection is destroyed. */
export interface StreamControl {
  kill(): void;
  /** Send the response headers now, before any message (grpc-go's `stream.SendHeader`). */
  sendHeader?(): void;
}

export const streamControlKey = createContextKey<StreamControl | undefined>(undefined);

/** The streams currently open, so tests can count and kill them. */
export class TickerStreams {
  readonly #open = new Set<StreamControl>();

  get open(): number {
    return this.#open.size;
  }

  /** Destroy the connection under every open stream (no trailer, no status). Returns how many. */
  killAll(): number {
    const streams = [...this.#open];
    this.#open.clear();
    for (const stream of streams) stream.kill();
    return streams.length;
  }

  track(stream: StreamControl): () => void {
    this.#open.add(stream);
    return () => this.#open.delete(stream);
  }
}

function statusCode(code: number): Code {
  return code >= 1 && code <= 16 ? (code as Code) : Code.Unknown;
}

export function tickerServiceImpl(streams: TickerStreams): ServiceImpl<typeof Ticker> {
  return {
    async *ticks(request, context) {
      const untrack = streams.track(context.values.get(streamControlKey) ?? { kill() {} });
      try {
        for (let seq = 1; ; seq++) {
          const failing = request.failCode !== 0 && seq > request.failAfter;
          if (!failing && request.count > 0 && seq > request.count) return;
          if (seq > 1) await delay(request.intervalMs, undefined, { signal: context.signal });
          if (failing) throw new ConnectError(request.failMessage, statusCode(request.failCode));
          yield create(TickSchema, { seq, label: request.label });
        }
      } finally {
        untrack();
      }
    },

    echo(request, context) {
      if (request.failCode !== 0) {
        const details = request.failDetail
          ? [{ desc: FailDetailSchema, value: { text: request.failDetail } }]
          : undefined;
        throw new ConnectError(request.failMessage, statusCode(request.failCode), undefined, details);
      }
      const metadata: Record<string, string> = {};
      context.requestHeader.forEach((value, name) => {
        metadata[name] = value;
      });
      return create(EchoReplySchema, { text: request.text, metadata });
    },
  };
}
