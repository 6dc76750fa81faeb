/**
 * gmqtest.Relay, TEST-ONLY like the Ticker: JSON values in and out for the shared transport
 * contract suite. `echo` answers with what it was sent and keeps it, `hang` never answers, and
 * `watch` is a server stream that sends its headers at once and then whatever the test feeds to
 * its channel.
 */

import { create, fromJson, toJson } from "@bufbuild/protobuf";
import { EmptySchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Relay } from "./generated/gmqtest_pb.js";
import type { RelayState } from "./relay-state.js";
import { streamControlKey, type TickerStreams } from "./ticker-service.js";

export function relayServiceImpl(state: RelayState, streams: TickerStreams): ServiceImpl<typeof Relay> {
  return {
    echo(request) {
      const value = toJson(ValueSchema, request);
      state.echoed.push(value);
      return fromJson(ValueSchema, value);
    },

    async hang(_request, context) {
      state.hanging++;
      await new Promise<void>((resolve) => {
        if (context.signal.aborted) return resolve();
        context.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      state.hanging--;
      context.signal.throwIfAborted();
      return create(EmptySchema);
    },

    async *watch(request, context) {
      const control = context.values.get(streamControlKey);
      const untrack = streams.track(control ?? { kill() {} });
      const { watcher, close } = state.open(request.channel);
      try {
        control?.sendHeader?.();
        for await (const value of watcher.values(context.signal)) yield fromJson(ValueSchema, value);
      } finally {
        close();
        untrack();
      }
    },
  };
}
