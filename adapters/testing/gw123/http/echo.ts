/**
 * The bits of labstack/echo v3.3.10 the web module's behaviour comes from: its error handler
 * (WebError → 200 envelope, anything else → 500 `{"msg"}`), HTTPError texts, the default JSON
 * binder, JSON and HTML responses, and net/http dropping the connection when a handler panics.
 */

import { Buffer } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type GoStruct, goJson, goStruct } from "../../mqant/go-json.js";

/** echo.HTTPError: its text is `code=<n>, message=<m>`, which the 500 body carries. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly status: number,
    readonly text: string,
  ) {
    super(`code=${status}, message=${text}`);
  }
}

export const notFound = () => new HttpError(404, "Not Found");
export const methodNotAllowed = () => new HttpError(405, "Method Not Allowed");

/** BaseController.Fail: a handled failure, sent as HTTP 200 with the envelope. */
export class WebError extends Error {
  override readonly name = "WebError";
  constructor(
    readonly code: number,
    readonly msg: string,
  ) {
    super(msg);
  }
}

/** A Go runtime panic in a handler (e.g. a failed type assertion). There is no recover middleware. */
export class GoPanic extends Error {
  override readonly name = "GoPanic";
}

/** webEvent.Response, fields in struct order. */
export function envelope(code: number, msg: string, data: unknown): GoStruct {
  return goStruct({ code, msg, data });
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  // json.Encoder.Encode: HTML-escaped, one trailing newline.
  const body = `${goJson(value)}\n`;
  res.writeHead(status, {
    "content-type": "application/json; charset=UTF-8",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    "content-type": "text/html; charset=UTF-8",
    "content-length": Buffer.byteLength(html),
  });
  res.end(html);
}

/** What echo's HTTPErrorHandler (as configured by the web module) and net/http do with a failure. */
export function sendError(req: IncomingMessage, res: ServerResponse, err: unknown): void {
  if (err instanceof GoPanic) {
    // net/http recovers the panic and closes the connection without a response.
    req.socket.destroy();
    return;
  }
  if (err instanceof WebError) sendJson(res, 200, envelope(err.code, err.msg, null));
  else sendJson(res, 500, { msg: err instanceof Error ? err.message : String(err) });
}

export type FieldType = "string" | "int";

/** A Go struct target for the binder: its type name (for messages) and json fields. */
export interface BindTarget {
  readonly goType: string;
  readonly fields: Readonly<Record<string, FieldType>>;
}

/** `map[string]interface{}`: any JSON object. */
export const MAP_TARGET = undefined;

function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  if (typeof value === "boolean") return "bool";
  return typeof value === "object" ? "object" : typeof value;
}

/**
 * echo's DefaultBinder.Bind for a POST: an empty body is a 400, JSON and urlencoded forms are
 * bound, anything else is a 415. Returns the bound map (all keys) or struct (only its fields).
 * Go's JSON syntax-error offsets and texts are approximated.
 */
export function bind(
  req: IncomingMessage,
  body: Buffer,
  target: BindTarget | undefined = MAP_TARGET,
): Record<string, unknown> {
  if (body.length === 0) throw new HttpError(400, "Request body can't be empty");
  const contentType = req.headers["content-type"] ?? "";
  if (contentType.startsWith("application/json")) return bindJson(body.toString("utf8"), target);
  if (contentType.startsWith("application/x-www-form-urlencoded")) {
    return bindForm(new URLSearchParams(body.toString("utf8")), target);
  }
  throw new HttpError(415, "Unsupported Media Type");
}

function bindJson(text: string, target: BindTarget | undefined): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, `Syntax error: offset=${syntaxOffset(text)}, error=${syntaxText(text)}`);
  }
  const typeError = (expected: string, got: string, field: string) =>
    new HttpError(
      400,
      `Unmarshal type error: expected=${expected}, got=${got}, field=${field}, offset=${text.length}`,
    );
  // `null` leaves the target untouched.
  if (value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw typeError(target?.goType ?? "map[string]interface {}", jsonKind(value), "");
  }
  const object = value as Record<string, unknown>;
  if (!target) return object;
  const bound: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(object)) {
    const field = Object.keys(target.fields).find((name) => name.toLowerCase() === key.toLowerCase());
    if (!field || item === null) continue;
    const type = target.fields[field]!;
    if (type === "string" && typeof item !== "string") throw typeError("string", jsonKind(item), field);
    if (type === "int" && !(typeof item === "number" && Number.isSafeInteger(item))) {
      throw typeError("int", typeof item === "number" ? `number ${item}` : jsonKind(item), field);
    }
    bound[field] = item;
  }
  return bound;
}

function bindForm(form: URLSearchParams, target: BindTarget | undefined): Record<string, unknown> {
  const bound: Record<string, unknown> = {};
  for (const [key, value] of form) {
    if (!target) {
      bound[key] ??= value;
      continue;
    }
    const field = Object.keys(target.fields).find((name) => name.toLowerCase() === key.toLowerCase());
    if (!field || field in bound) continue;
    if (target.fields[field] === "int") {
      if (!/^[+-]?\d+$/.test(value))
        throw new HttpError(400, `strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`);
      bound[field] = Number(value);
    } else {
      bound[field] = value;
    }
  }
  return bound;
}

function syntaxOffset(text: string): number {
  const first = text.search(/\S/);
  return first < 0 ? text.length : first + 1;
}

function syntaxText(text: string): string {
  const first = text.trim()[0];
  if (first === undefined) return "unexpected end of JSON input";
  if (!/[{["\-0-9tfn]/.test(first)) return `invalid character '${first}' looking for beginning of value`;
  return "unexpected end of JSON input";
}

/** echo's Context.RealIP. */
export function realIp(req: IncomingMessage): string {
  const forwarded = req.headers["x-forwarded-for"];
  if (typeof forwarded === "string" && forwarded !== "") return forwarded.split(", ")[0]!;
  const realIpHeader = req.headers["x-real-ip"];
  if (typeof realIpHeader === "string" && realIpHeader !== "") return realIpHeader;
  return req.socket.remoteAddress ?? "";
}
