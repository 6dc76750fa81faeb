/**
 * `startCommentServer()`: commentModule.CommentService (and the test-only Ticker) over real
 * gRPC-web. The server itself is loaded on the first call, so importing `gmq/testing` needs
 * neither `@connectrpc/connect-node` nor `@bufbuild/protobuf` unless this is used.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { TestClock as Clock } from "../clock.js";
import type { CommentPaging } from "./comment-service.js";
import type { CommentTable } from "./comment-table.js";
import type { GrpcWebCall } from "./grpc-web-envoy.js";
import type { RelayState } from "./relay-state.js";

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
  /** The test-only gmqtest.Relay's state; pass the previous server's to keep it across a restart. */
  readonly relay?: RelayState;
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
  /** Ticker and Relay streams currently open. */
  readonly openStreams: number;
  /** Cut every open Ticker and Relay stream like a network failure (socket destroyed, no trailer). Returns how many. */
  killStreams(): number;
  /** gmqtest.Relay: the values `echo` was sent (`relay.echoed`) and the open `watch` streams. */
  readonly relay: RelayState;
  /** gmqtest.Relay: send each value, in order, on every `watch` stream open on `channel`. Returns how many streams. */
  feed(channel: string, values: readonly JsonValue[]): number;
  close(): Promise<void>;
}

export async function startCommentServer(options: CommentServerOptions = {}): Promise<CommentServer> {
  const { startCommentServerNow } = await import("./comment-server-impl.js");
  return startCommentServerNow(options);
}
