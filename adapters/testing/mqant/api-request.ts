/**
 * httpgateway/api/util.go RequestToProto: a Node request (body already read) as go.api.Request,
 * with Go's quirks: canonical header names, Content-Type forced to text/plain when missing or
 * unparseable, form bodies parsed only for urlencoded POST/PUT/PATCH, and X-Forwarded-For set to
 * the peer address unless the client sent one (the header loop then overwrites it).
 */

import { Buffer } from "node:buffer";
import type { IncomingMessage } from "node:http";
import type { ApiPair, ApiRequest } from "./http-api.js";

/** textproto.CanonicalMIMEHeaderKey for ordinary header names. */
export function canonicalHeader(name: string): string {
  return name
    .split("-")
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1).toLowerCase())
    .join("-");
}

/** url.ParseQuery's failure, which ParseForm reports as `Error parsing form: <this>`. */
export class QueryError extends Error {
  override readonly name = "QueryError";
}

/** url.QueryUnescape: `+` is a space, `%XX` a byte; a bad escape fails the whole parse. */
function queryUnescape(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "%") {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
        throw new QueryError(`invalid URL escape ${JSON.stringify(text.slice(i, i + 3))}`);
      }
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (c === "+") {
      bytes.push(0x20);
    } else {
      bytes.push(...Buffer.from(c, "utf8"));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

/** url.ParseQuery (Go 1.13: `&` and `;` separate pairs). */
function parseQuery(query: string): Record<string, ApiPair> {
  const out: Record<string, string[]> = {};
  for (const part of query.split(/[&;]/)) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = queryUnescape(eq < 0 ? part : part.slice(0, eq));
    const value = queryUnescape(eq < 0 ? "" : part.slice(eq + 1));
    if (!Object.hasOwn(out, key)) out[key] = [];
    out[key]!.push(value);
  }
  return Object.fromEntries(Object.entries(out).map(([key, values]) => [key, { key, values }]));
}

/** mime.ParseMediaType's media type, lower-cased, or undefined when it fails. */
function mediaType(contentType: string | undefined): string | undefined {
  const match = /^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(;.*)?$/.exec(
    contentType ?? "",
  );
  return match ? match[1]!.toLowerCase() : undefined;
}

/** Build the request proto; throws QueryError (with Go's text) when ParseForm would fail. */
export function requestToProto(req: IncomingMessage, body: Buffer): ApiRequest {
  const target = req.url ?? "/";
  const q = target.indexOf("?");
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? "" : target.slice(q + 1);
  const method = req.method ?? "GET";
  let type = mediaType(req.headers["content-type"]);
  const headers: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (name === "host" || name === "transfer-encoding" || !values) continue;
    headers[canonicalHeader(name)] = [...values];
  }
  if (type === undefined) {
    type = "text/plain";
    headers["Content-Type"] = ["text/plain; charset=UTF-8"];
  }

  const isForm = type === "application/x-www-form-urlencoded" && ["POST", "PUT", "PATCH"].includes(method);
  let post: Record<string, ApiPair> = {};
  let get: Record<string, ApiPair>;
  try {
    if (isForm) post = parseQuery(body.toString("latin1"));
    get = parseQuery(rawQuery);
  } catch (err) {
    if (err instanceof QueryError) throw new QueryError(`Error parsing form: ${err.message}`);
    throw err;
  }

  const header: Record<string, ApiPair> = {};
  const peer = req.socket.remoteAddress ?? "";
  const prior = headers["X-Forwarded-For"];
  header["X-Forwarded-For"] = {
    key: "X-Forwarded-For",
    values: [prior ? `${prior.join(", ")}, ${peer}` : peer],
  };
  header.Host = { key: "Host", values: [req.headers.host ?? ""] };
  for (const [key, values] of Object.entries(headers)) header[key] = { key, values };

  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    path = rawPath;
  }
  return {
    method,
    path,
    header,
    get,
    post,
    body: type === "application/x-www-form-urlencoded" ? "" : body.toString("utf8"),
    url: target,
  };
}
