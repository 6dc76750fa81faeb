/**
 * startCommentServer(): a real gRPC-web server (connect-node) for commentModule.CommentService
 * and the test-only gmqtest.Ticker, behind the Envoy stand-in of grpc-web-envoy.ts.
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createConnectRouter, createContextValues } from "@connectrpc/connect";
import type { Clock } from "./clock.js";
import { type CommentPaging, commentServiceImpl } from "./comment-service.js";
import { CommentTable } from "./comment-table.js";
import { CommentService } from "./generated/comment_pb.js";
import { Ticker } from "./generated/gmqtest_pb.js";
import { createEnvoyFront, ENVOY_CORS, type GrpcWebCall } from "./grpc-web-envoy.js";
import { streamControlKey, TickerStreams, tickerServiceImpl } from "./ticker-service.js";

export interface CommentServerOptions {
  /** Listen address. Default 127.0.0.1; the port is chosen by the OS unless given. */
  readonly host?: string;
  readonly port?: number;
  /** The comments table; pass the same one to startGw123Http() to share it. Default: a new one. */
  readonly comments?: CommentTable;
  /** `limit-offset` (default) or `all` (2019-09: paging ignored, every matching row). */
  readonly paging?: CommentPaging;
  /** Source of created_at. Default Date.now. */
  readonly clock?: Clock;
  /** Which envoy.yaml CORS allow-list the preflight advertises. Default `module`. */
  readonly corsAllowHeaders?: "module" | "root";
  /** Insert the blank placeholder row every start inserts. Default true. */
  readonly placeholder?: boolean;
}

export interface CommentServer extends AsyncDisposable {
  /** `http://<host>:<port>`: the gRPC-web base URL (Envoy's :8080 in the 2019 deployment). */
  readonly url: string;
  readonly port: number;
  /** The comments table (shared when one was passed in). */
  readonly comments: CommentTable;
  /** Every gRPC-web request so far, in arrival order: path, mode and request headers. */
  readonly calls: readonly GrpcWebCall[];
  /** Request headers of the latest gRPC-web request (lower-case names), if any. */
  readonly lastMetadata: Readonly<Record<string, string>> | undefined;
  /** Ticker streams currently open. */
  readonly openStreams: number;
  /** Cut every open Ticker stream like a network failure (socket destroyed, no trailer). Returns how many. */
  killStreams(): number;
  close(): Promise<void>;
}

export async function startCommentServer(options: CommentServerOptions = {}): Promise<CommentServer> {
  const clock = options.clock ?? Date.now;
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
      createdAt: Math.floor(clock() / 1000),
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

  const front = createEnvoyFront({
    handlers: router.handlers,
    allowHeaders: options.corsAllowHeaders === "root" ? ENVOY_CORS.rootAllowHeaders : ENVOY_CORS.allowHeaders,
    onCall: (call, req) => {
      calls.push(call);
      return createContextValues().set(streamControlKey, { kill: () => req.socket.destroy() });
    },
  });
  const server = createServer(front);
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      streams.killAll();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };

  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
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
    close,
    [Symbol.asyncDispose]: close,
  };
}
