/**
 * commentModule.CommentService as the gw123 Comment module implements it (spec §2): the
 * validation order and texts, status UNKNOWN for every failure (a plain Go error), the paging
 * quirks, and putComment storing what it is given.
 */

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { type TestClock as Clock, unixSeconds } from "../clock.js";
import { type CommentRow, type CommentTable, DatabaseError } from "./comment-table.js";
import { CommentSchema, type CommentService, ResponseGetCommentsSchema } from "./generated/comment_pb.js";

/**
 * - `limit-offset`: `LIMIT page_size OFFSET current_page*page_size` (the latest trees).
 * - `all`: every matching row, paging ignored (the 2019-09 builds that actually served it).
 */
export type CommentPaging = "limit-offset" | "all";

export interface CommentServiceOptions {
  readonly table: CommentTable;
  readonly paging: CommentPaging;
  readonly clock: Clock;
}

/** A Go `errors.New(text)` returned from a handler: grpc-go sends UNKNOWN with that text. */
function goError(text: string): ConnectError {
  return new ConnectError(text, Code.Unknown);
}

function query<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof DatabaseError) throw goError(err.message);
    throw err;
  }
}

/**
 * gorm v1's LIMIT/OFFSET: a negative limit drops both clauses, a negative offset drops OFFSET.
 * The offset is computed in int32 as the Go code does (current_page * page_size wraps).
 */
function page(rows: CommentRow[], pageSize: number, currentPage: number): CommentRow[] {
  if (pageSize < 0) return rows;
  const offset = Math.imul(currentPage, pageSize);
  const start = Math.max(offset, 0);
  return rows.slice(start, start + pageSize);
}

export function commentServiceImpl(options: CommentServiceOptions): ServiceImpl<typeof CommentService> {
  const { table, clock } = options;
  return {
    getComments(request) {
      if (request.targetId <= 0) throw goError("参数错误1");
      if (request.type !== "group" && request.type !== "resource") throw goError("参数错误2");
      const matching = query(() =>
        table.select((row) => row.type === request.type && row.targetId === request.targetId),
      );
      const rows =
        options.paging === "all" ? matching : page(matching, request.pageSize, request.currentPage);
      // page_size, current_page and total are never set.
      return create(ResponseGetCommentsSchema, {
        comments: rows.map((row) =>
          create(CommentSchema, {
            id: row.id,
            type: row.type,
            targetId: row.targetId,
            userId: row.userId,
            parentId: row.parentId,
            content: row.content,
            createdAt: row.createdAt | 0,
          }),
        ),
      });
    },

    putComment(request) {
      query(() =>
        table.insert({
          type: request.type,
          targetId: request.targetId,
          parentId: request.parentId,
          content: request.content,
          userId: request.userId,
          clientId: request.clientId,
          ip: "",
          createdAt: unixSeconds(clock),
        }),
      );
      // {code: 0, msg: ""}: every field is the proto3 default, so the message is empty on the wire.
      return {};
    },
  };
}
