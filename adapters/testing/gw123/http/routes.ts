/**
 * The `/gapi/*` routes the SDK cares about (spec §3): the SMS login flow, the comment routes that
 * share the gRPC service's table, and getUser. Each behaves like its Go controller, including
 * which failures are 200 envelopes, which are 500 `{"msg"}` and which panic.
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { type TestClock as Clock, unixSeconds } from "../../clock.js";
import { goJson, goStruct } from "../../mqant/go-json.js";
import type { CommentRow, CommentTable } from "../comment-table.js";
import type { SmsCodes, UserTable } from "./accounts.js";
import { bind, envelope, GoPanic, realIp, sendJson, WebError } from "./echo.js";
import { type StandardClaims, signJwt } from "./jwt.js";
import { mysqlEquals } from "./mysql-compare.js";

export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly body: Buffer;
  /** Set by the auth middleware. */
  readonly claims?: StandardClaims;
  readonly userId?: number;
}

export interface WebModule {
  readonly comments: CommentTable;
  readonly users: UserTable;
  readonly sms: SmsCodes;
  readonly clock: Clock;
  /** Key that /gapi/login signs with (upstream: `modules.web.jwt_key`). */
  readonly signingKey: string;
  /** Offset of the zone `created_at` is written in, minutes east of UTC. */
  readonly zoneOffsetMinutes: number;
}

export type Route = (web: WebModule, ctx: RouteContext) => void;

const ERROR_DB = 402;
const ERROR_ARGUMENT = 404;
const TOKEN_LIFETIME_S = 3600 * 24 * 7;

function success(res: ServerResponse, data: unknown): void {
  sendJson(res, 200, envelope(0, "success", data));
}

/** The claims /gapi/login issues for a user. */
export function loginClaims(
  user: { id: number; name: string; mobile: string; avatar: string },
  nowS: number,
) {
  return {
    aud: "mobile",
    exp: nowS + TOKEN_LIFETIME_S,
    jti: String(user.id),
    iat: nowS,
    iss: "xytschool",
    // json.Marshal of map[string]string: keys sorted, HTML-escaped.
    sub: goJson({ name: user.name, mobile: user.mobile, avatar: user.avatar }),
  } satisfies StandardClaims;
}

export const sendMessage: Route = (web, { req, res, body }) => {
  let mobile: string;
  try {
    mobile = String(
      bind(req, body, { goType: "frontend.SendMessageParam", fields: { mobile: "string" } }).mobile ?? "",
    );
  } catch {
    throw new WebError(ERROR_ARGUMENT, "");
  }
  if (web.sms.send(mobile) === undefined) throw new WebError(ERROR_DB, "请稍等1分钟后尝试");
  success(res, null);
};

const REGISTER = {
  goType: "services.RegisterParam",
  fields: { mobile: "string", password: "string", code: "string" },
} as const;
const LOGIN = { goType: "services.LoginParam", fields: { mobile: "string", password: "string" } } as const;

function bindOrFail(ctx: RouteContext, target: typeof REGISTER | typeof LOGIN): Record<string, string> {
  try {
    const bound = bind(ctx.req, ctx.body, target);
    return Object.fromEntries(Object.keys(target.fields).map((k) => [k, String(bound[k] ?? "")]));
  } catch (err) {
    throw new WebError(ERROR_ARGUMENT, (err as Error).message);
  }
}

export const register: Route = (web, ctx) => {
  const params = bindOrFail(ctx, REGISTER);
  // An unsent or expired code reads as "", which an empty `code` matches (as upstream).
  if (web.sms.code(params.mobile!) !== params.code) throw new WebError(ERROR_DB, "验证码校验失败");
  if (web.users.byMobile(params.mobile!)) throw new WebError(ERROR_DB, "手机号码已经注册");
  web.users.add({ mobile: params.mobile!, password: params.password! });
  success(ctx.res, null);
};

export const login: Route = (web, ctx) => {
  const params = bindOrFail(ctx, LOGIN);
  const user = web.users.byMobile(params.mobile!);
  if (!user) throw new WebError(ERROR_DB, "record not found");
  if (user.password !== params.password) throw new WebError(ERROR_DB, "账号或者密码错误");
  const token = signJwt(loginClaims(user, unixSeconds(web.clock)), web.signingKey);
  success(ctx.res, { api_token: token });
};

export const getUser: Route = (web, { res, userId }) => {
  const user = web.users.byId(userId ?? 0);
  // A raw gorm error: the error handler's 500 path.
  if (!user) throw new Error("record not found");
  success(
    res,
    goStruct({ id: user.id, name: user.name, avatar: user.avatar, email: user.email, mobile: user.mobile }),
  );
};

/** time.Time's JSON: RFC 3339 in the zone the driver parsed it in. */
function rfc3339(unixS: number, offsetMinutes: number): string {
  const local = new Date((unixS + offsetMinutes * 60) * 1000).toISOString().slice(0, 19);
  if (offsetMinutes === 0) return `${local}Z`;
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/** POST /gapi/comments: up to 50 rows joined with their users, no order. */
export const commentList: Route = (web, { req, res, body }) => {
  const request = bind(req, body);
  const rows: CommentRow[] = web.comments
    .select((row) => mysqlEquals(row.type, request.type) && mysqlEquals(row.targetId, request.target_id))
    .slice(0, 50);
  success(
    res,
    rows.map((row) => {
      const user = web.users.byId(row.userId);
      return goStruct({
        id: row.id,
        user_id: row.userId,
        content: row.content,
        name: user?.name ?? "",
        avatar: user?.avatar ?? "",
        created_at: rfc3339(row.createdAt, web.zoneOffsetMinutes),
      });
    }),
  );
};

/** Go's `v.(T)` on an interface{}: panics unless the dynamic type is exactly T. */
function assertType<T>(value: unknown, goType: "string" | "float64"): T {
  const ok = goType === "string" ? typeof value === "string" : typeof value === "number";
  if (!ok) throw new GoPanic(`interface conversion: interface {} is not ${goType}`);
  return value as T;
}

/** Go's int32(float64) on amd64: truncation, and 0x80000000 when out of range. */
function toInt32(value: number): number {
  return Math.abs(value) < 2 ** 31 ? Math.trunc(value) : -(2 ** 31);
}

/** POST /gapi/comment (JWT): all four fields required with exact JSON types, else a panic. */
export const postComment: Route = (web, { req, res, body, userId }) => {
  const request = bind(req, body);
  const type = assertType<string>(request.type, "string");
  const targetId = toInt32(assertType<number>(request.target_id, "float64"));
  const content = assertType<string>(request.content, "string");
  const clientId = assertType<string>(request.client_id, "string");
  web.comments.insert({
    type,
    targetId,
    content,
    userId: (userId ?? 0) | 0,
    clientId,
    parentId: 0,
    ip: realIp(req),
    createdAt: unixSeconds(web.clock),
  });
  success(res, null);
};
