/**
 * The RPC contract of mqant's HTTP gateway (`httpgateway/proto/api.proto`, package go.api) and
 * its error shape (`httpgateway/errors`): what an emulated module's API handler receives and
 * returns, and the `{"id","code","detail","status"}` JSON errors travel in.
 */

import { STATUS_CODES } from "node:http";
import { goJson, goStruct } from "./go-json.js";

/** go.api.Pair: one header, query or form field with all its values. */
export interface ApiPair {
  readonly key: string;
  readonly values: readonly string[];
}

/** go.api.Request: the whole HTTP request, built as httpgateway's RequestToProto does. */
export interface ApiRequest {
  readonly method: string;
  /** URL path, unescaped (also the handler name). */
  readonly path: string;
  /** Canonical header names (`Content-Type`), plus `X-Forwarded-For` and `Host`. */
  readonly header: Readonly<Record<string, ApiPair>>;
  /** Query parameters. */
  readonly get: Readonly<Record<string, ApiPair>>;
  /** Form fields, only for `application/x-www-form-urlencoded` POST/PUT/PATCH bodies. */
  readonly post: Readonly<Record<string, ApiPair>>;
  /** Raw body for every other content type. */
  readonly body: string;
  /** The request target as received (path and query). */
  readonly url: string;
}

/** go.api.Response. A handler must return one (a proto); anything else is a 500. */
export class ApiResponse {
  constructor(
    /** 0 becomes 200. */
    readonly statusCode: number,
    readonly header: Readonly<Record<string, ApiPair>>,
    readonly body: string,
  ) {}
}

/** Build a response; `header` values may be one string or several. */
export function apiResponse(
  options: {
    readonly statusCode?: number;
    readonly header?: Readonly<Record<string, string | readonly string[]>>;
    readonly body?: string;
  } = {},
): ApiResponse {
  const header: Record<string, ApiPair> = {};
  for (const [key, value] of Object.entries(options.header ?? {})) {
    header[key] = { key, values: typeof value === "string" ? [value] : [...value] };
  }
  return new ApiResponse(options.statusCode ?? 0, header, options.body ?? "");
}

/** Go's http.StatusText (Go 1.13 wording where it differs from Node's). */
export function goStatusText(code: number): string {
  const go: Record<number, string> = {
    413: "Request Entity Too Large",
    414: "Request URI Too Long",
    416: "Requested Range Not Satisfiable",
    418: "I'm a teapot",
  };
  return go[code] ?? STATUS_CODES[code] ?? "";
}

/** httpgateway/errors.Error. */
export interface MqantApiError {
  readonly id: string;
  readonly code: number;
  readonly detail: string;
  readonly status: string;
}

/** Error.Error(): json.Marshal of the struct. */
export function encodeApiError(error: MqantApiError): string {
  return goJson(goStruct({ id: error.id, code: error.code, detail: error.detail, status: error.status }));
}

/**
 * The error string a handler returns for an HTTP error: errors.New(id, detail, code). Throw it
 * (or return `reply(null, apiError(...))`) and the gateway answers with that status and JSON.
 */
export function apiError(code: number, detail: string, id = ""): string {
  return encodeApiError({ id, code, detail, status: goStatusText(code) });
}

const FIELDS = ["id", "code", "detail", "status"] as const;

/**
 * errors.Parse: json.Unmarshal into the struct; text that is not JSON, or has a field of the
 * wrong type, keeps whatever parsed and puts the whole text in `detail`.
 */
export function parseApiError(text: string): MqantApiError {
  const error = { id: "", code: 0, detail: "", status: "" };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ...error, detail: text };
  }
  if (value === null) return error;
  if (typeof value !== "object" || Array.isArray(value)) return { ...error, detail: text };
  let failed = false;
  for (const [key, item] of Object.entries(value)) {
    const field = FIELDS.find((f) => f === key.toLowerCase());
    if (!field || item === null) continue;
    if (field === "code") {
      if (typeof item === "number" && Number.isInteger(item) && Math.abs(item) < 2 ** 31) error.code = item;
      else failed = true;
    } else if (typeof item === "string") {
      error[field] = item;
    } else {
      failed = true;
    }
  }
  return failed ? { ...error, detail: text } : error;
}
