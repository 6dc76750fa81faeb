/**
 * gmq/grpc-web and gmq/http as a browser bundle gets them (the built package), for the tests to
 * drive with page.evaluate: `window.rpcPage` holds what they need.
 */
import { createClient, GmqError } from "gmq";
import { grpcWeb, rpc } from "gmq/grpc-web";
import { http } from "gmq/http";
import { CommentServiceDefinition } from "../../../examples/comments/generated/comment.js";
import { TickerDefinition } from "../../../examples/comments/generated/gmqtest.js";

/** A GmqError as plain data, so it crosses page.evaluate. */
const plain = (error: unknown) =>
  GmqError.is(error)
    ? { code: error.code, reason: error.reason, message: error.message, details: error.details }
    : { message: String(error) };

(window as unknown as { rpcPage: unknown }).rpcPage = {
  createClient,
  grpcWeb,
  http,
  rpc,
  services: [CommentServiceDefinition, TickerDefinition],
  CommentServiceDefinition,
  plain,
};
document.title = "ready";
