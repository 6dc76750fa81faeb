/**
 * startGw123Http(): the web module's HTTP JSON API (spec §3) on a free loopback port, with echo
 * v3's routing as the module configures it: public `/gapi` routes, JWT-guarded ones, the
 * catch-all that sends every other `/gapi/*` path through the JWT check, and optional CORS.
 */

import { Buffer } from "node:buffer";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { type TestClock as Clock, systemClock } from "../../clock.js";
import { listenHttp } from "../../http-listener.js";
import { CommentTable } from "../comment-table.js";
import { type NewUser, type SentSms, SmsCodes, type User, UserTable } from "./accounts.js";
import { methodNotAllowed, notFound, sendError, sendHtml, sendJson } from "./echo.js";
import { type StandardClaims, signJwt, verifyJwt } from "./jwt.js";
import {
  commentList,
  getUser,
  login,
  loginClaims,
  postComment,
  type Route,
  register,
  sendMessage,
  type WebModule,
} from "./routes.js";

export interface Gw123HttpOptions {
  readonly host?: string;
  readonly port?: number;
  /** The comments table; pass the CommentServer's to share it. Default: a new one. */
  readonly comments?: CommentTable;
  /** Users present at start (ids from 1, in this order). */
  readonly users?: readonly NewUser[];
  /** `modules.web.jwt_key`, used to check tokens. Default `gmq-test-jwt-key`. */
  readonly jwtKey?: string;
  /**
   * Key /gapi/login signs with. Default: jwtKey. Give another value to reproduce the Docker
   * deployment's bug (tokens signed with the literal `${JWT_KEY}` fail with 401).
   */
  readonly loginJwtKey?: string;
  /** `allowOrigins`: exact origins (or `*`) for echo's CORS middleware. Default: no CORS at all. */
  readonly allowOrigins?: readonly string[];
  /** Token times, the SMS limit and created_at. Default Date.now. */
  readonly clock?: Clock;
  /** Zone of `created_at` in /gapi/comments, minutes east of UTC. Default 0 (`Z`). */
  readonly zoneOffsetMinutes?: number;
}

export interface MintTokenOptions {
  /** The `jti` claim. A user id (number) or any text; "0" or non-numeric is refused with 授权失败2. */
  readonly userId: number | string;
  /** Unix seconds. Default: now. */
  readonly issuedAt?: number;
  /** Unix seconds. Default: issuedAt + 7 days. Use a past value for an expired token. */
  readonly expiresAt?: number;
  /** Default: the server's jwtKey. */
  readonly key?: string;
}

export interface Gw123Http extends AsyncDisposable {
  /** `http://<host>:<port>`; the API is under `/gapi`. */
  readonly url: string;
  readonly port: number;
  readonly comments: CommentTable;
  readonly users: UserTable;
  /** SMS codes sent by /gapi/sendMessage, oldest first (what a test "reads from the phone"). */
  readonly sms: readonly SentSms[];
  /** An HS256 token with the login claims (aud, iss, sub from the user when it exists). */
  mintToken(options: MintTokenOptions): string;
  close(): Promise<void>;
}

interface RouteSpec {
  readonly method: "GET" | "POST";
  readonly auth: boolean;
  readonly route: Route;
}

const ROUTES: Readonly<Record<string, RouteSpec>> = {
  "/gapi/sendMessage": { method: "POST", auth: false, route: sendMessage },
  "/gapi/login": { method: "POST", auth: false, route: login },
  "/gapi/register": { method: "POST", auth: false, route: register },
  "/gapi/comments": { method: "POST", auth: false, route: commentList },
  "/gapi/getUser": { method: "GET", auth: true, route: getUser },
  "/gapi/comment": { method: "POST", auth: true, route: postComment },
};

const CORS_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE";
const CORS_HEADERS = "Origin,Content-Type,Accept,x-requested-with,authorization,x-csrf-token";

/** strconv.Atoi as used on `jti`: 0 for anything that is not a decimal integer. */
function atoi(text: string | undefined): number {
  return text !== undefined && /^[+-]?\d+$/.test(text) ? Number(text) : 0;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export async function startGw123Http(options: Gw123HttpOptions = {}): Promise<Gw123Http> {
  const clock = options.clock ?? systemClock;
  const jwtKey = options.jwtKey ?? "gmq-test-jwt-key";
  const users = new UserTable();
  for (const user of options.users ?? []) users.add(user);
  const sms = new SmsCodes(clock);
  const web: WebModule = {
    comments: options.comments ?? new CommentTable(),
    users,
    sms,
    clock,
    signingKey: options.loginJwtKey ?? jwtKey,
    zoneOffsetMinutes: options.zoneOffsetMinutes ?? 0,
  };
  const allowOrigins = options.allowOrigins ?? [];

  /** webMiddlewares.NewAuthMiddleware. Returns the claims, or answers itself and returns undefined. */
  const authenticate = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === "OPTIONS") {
      sendHtml(res, 200, "");
      return undefined;
    }
    const parts = (req.headers.authorization ?? "").split(" ");
    if (parts.length !== 2) {
      sendJson(res, 200, { code: 401, msg: "授权失败" });
      return undefined;
    }
    const verified = verifyJwt(parts[1]!, jwtKey, Math.floor(clock.now() / 1000));
    if (!verified.ok) {
      sendJson(res, 200, { code: 401, msg: `授权失败1:${verified.error}` });
      return undefined;
    }
    const userId = atoi(verified.claims.jti);
    if (userId === 0) {
      sendJson(res, 200, { code: 401, msg: "授权失败2" });
      return undefined;
    }
    return { claims: verified.claims, userId };
  };

  /** echo v3 CORS middleware (runs before routing; answers every OPTIONS itself). */
  const cors = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (allowOrigins.length === 0) return false;
    const origin = req.headers.origin ?? "";
    const allowOrigin = allowOrigins.find((o) => o === "*" || o === origin) ?? "";
    res.appendHeader("vary", "Origin");
    res.setHeader("access-control-allow-origin", allowOrigin);
    if (req.method !== "OPTIONS") return false;
    res.appendHeader("vary", "Access-Control-Request-Method");
    res.appendHeader("vary", "Access-Control-Request-Headers");
    res.setHeader("access-control-allow-methods", CORS_METHODS);
    res.setHeader("access-control-allow-headers", CORS_HEADERS);
    res.writeHead(204).end();
    return true;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    if (cors(req, res)) return;
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const spec = Object.hasOwn(ROUTES, path) ? ROUTES[path] : undefined;
    try {
      if (spec) {
        if (req.method !== spec.method) throw methodNotAllowed();
        let auth: { claims: StandardClaims; userId: number } | undefined;
        if (spec.auth) {
          auth = authenticate(req, res);
          if (!auth) return;
        }
        spec.route(web, { req, res, body, claims: auth?.claims, userId: auth?.userId });
        return;
      }
      // The auth group's catch-all: every other /gapi path meets the JWT check, then 404.
      if (path === "/gapi" || path.startsWith("/gapi/")) {
        if (!authenticate(req, res)) return;
      }
      throw notFound();
    } catch (err) {
      sendError(req, res, err);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  const { url, port, close } = await listenHttp(server, { host: options.host, port: options.port });

  return {
    url,
    port,
    comments: web.comments,
    users,
    sms: sms.sent,
    mintToken: ({ userId, issuedAt, expiresAt, key }) => {
      const iat = issuedAt ?? Math.floor(clock.now() / 1000);
      const user: Pick<User, "id" | "name" | "mobile" | "avatar"> = users.byId(atoi(String(userId))) ?? {
        id: 0,
        name: "",
        mobile: "",
        avatar: "",
      };
      const claims = { ...loginClaims(user, iat), jti: String(userId) };
      return signJwt({ ...claims, exp: expiresAt ?? claims.exp }, key ?? jwtKey);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
