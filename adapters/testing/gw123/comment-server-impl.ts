/**
 * startCommentServer(): a real gRPC-web server (connect-node) for commentModule.CommentService
 * and the test-only gmqtest.Ticker and gmqtest.Relay, behind the Envoy stand-in of grpc-web-envoy.ts.
 */

import { createServer } from "node:http";
import { createConnectRouter, createContextValues } from "@connectrpc/connect";
import { systemClock } from "../clock.js";
import { listenHttp } from "../http-listener.js";
import type { CommentServer, CommentServerOptions } from "./comment-server.js";
import { commentServiceImpl } from "./comment-service.js";
import { CommentTable } from "./comment-table.js";
import { ENVOY_CORS } from "./envoy-cors.js";
import { CommentService } from "./generated/comment_pb.js";
import { Relay, Ticker } from "./generated/gmqtest_pb.js";
import { createEnvoyFront, type GrpcWebCall } from "./grpc-web-envoy.js";
import { relayServiceImpl } from "./relay-service.js";
import { RelayState } from "./relay-state.js";
import { streamControlKey, TickerStreams, tickerServiceImpl } from "./ticker-service.js";

export async function startCommentServerNow(options: CommentServerOptions = {}): Promise<CommentServer> {
  const clock = options.clock ?? systemClock;
  const comments = options.comments ?? new CommentTable();
  if (options.placeholder ?? true) {
    comments.insert({
      type: "",
      targetId: 0,
      userId: 0,
      parentId: 0,
      content: "",
      clientId: "",
      ip: "",
      createdAt: Math.floor(clock.now() / 1000),
    });
  }
  const streams = new TickerStreams();
  const calls: GrpcWebCall[] = [];

  // grpc-go registers no compressor by default; acceptCompression [] keeps connect from offering one.
  const router = createConnectRouter({ grpcWeb: true, grpc: false, connect: false, acceptCompression: [] });
  router.service(
    CommentService,
    commentServiceImpl({ table: comments, paging: options.paging ?? "limit-offset", clock }),
  );
  router.service(Ticker, tickerServiceImpl(streams));
  const relay = options.relay ?? new RelayState();
  router.service(Relay, relayServiceImpl(relay, streams));

  const front = createEnvoyFront({
    handlers: router.handlers,
    allowHeaders: options.corsAllowHeaders === "root" ? ENVOY_CORS.rootAllowHeaders : ENVOY_CORS.allowHeaders,
    onCall: (call, req, sendHeader) => {
      calls.push(call);
      return createContextValues().set(streamControlKey, { kill: () => req.socket.destroy(), sendHeader });
    },
  });
  const server = createServer(front);
  const { url, port, close } = await listenHttp(server, {
    host: options.host,
    port: options.port,
    beforeClose: () => streams.killAll(),
  });

  return {
    url,
    port,
    comments,
    calls,
    get lastMetadata() {
      return calls.at(-1)?.metadata;
    },
    get openStreams() {
      return streams.open;
    },
    killStreams: () => streams.killAll(),
    relay,
    feed: (channel, values) => relay.feed(channel, values),
    close,
    [Symbol.asyncDispose]: close,
  };
}
