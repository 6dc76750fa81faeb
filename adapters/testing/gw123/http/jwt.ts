/**
 * HS256 tokens as the web module makes and checks them (dgrijalva/jwt-go v3 StandardClaims), with
 * node:crypto HMAC rather than a JWT library: the servers must answer with jwt-go's own error
 * texts (`授权失败1:token is expired by 1h0m0s`), which a library like jose words differently, and
 * the whole of it is one HMAC and a few claim checks.
 */

import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";
import { goString } from "../../mqant/go-json.js";

/** jwt-go's StandardClaims; 0 / "" mean absent (omitempty). */
export interface StandardClaims {
  readonly aud?: string;
  readonly exp?: number;
  readonly jti?: string;
  readonly iat?: number;
  readonly iss?: string;
  readonly nbf?: number;
  readonly sub?: string;
}

const HMAC_ALGS: Readonly<Record<string, string>> = { HS256: "sha256", HS384: "sha384", HS512: "sha512" };
/** Registered in jwt-go but unusable with the []byte key the web module's keyfunc returns. */
const NON_HMAC_ALGS = new Set([
  "RS256",
  "RS384",
  "RS512",
  "ES256",
  "ES384",
  "ES512",
  "PS256",
  "PS384",
  "PS512",
]);

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

/** Field order of the Go struct, so the encoded claims match jwt-go's bytes. */
function encodeClaims(claims: StandardClaims): string {
  const parts: string[] = [];
  if (claims.aud) parts.push(`"aud":${goString(claims.aud)}`);
  if (claims.exp) parts.push(`"exp":${claims.exp}`);
  if (claims.jti) parts.push(`"jti":${goString(claims.jti)}`);
  if (claims.iat) parts.push(`"iat":${claims.iat}`);
  if (claims.iss) parts.push(`"iss":${goString(claims.iss)}`);
  if (claims.nbf) parts.push(`"nbf":${claims.nbf}`);
  if (claims.sub) parts.push(`"sub":${goString(claims.sub)}`);
  return `{${parts.join(",")}}`;
}

export function signJwt(claims: StandardClaims, secret: string): string {
  const signingInput = `${base64url('{"alg":"HS256","typ":"JWT"}')}.${base64url(encodeClaims(claims))}`;
  return `${signingInput}.${hmac("sha256", secret, signingInput).toString("base64url")}`;
}

function hmac(hash: string, secret: string, input: string): Buffer {
  return createHmac(hash, Buffer.from(secret, "utf8")).update(input).digest();
}

export type VerifyResult =
  | { readonly ok: true; readonly claims: StandardClaims }
  | { readonly ok: false; readonly error: string };

/** jwt-go's DecodeSegment: URL-safe base64, padding optional. */
function decodeSegment(segment: string): Buffer {
  const bad = segment.search(/[^A-Za-z0-9_-]/);
  if (bad >= 0 || segment.length % 4 === 1) {
    throw new Error(`illegal base64 data at input byte ${bad >= 0 ? bad : segment.length - 1}`);
  }
  return Buffer.from(segment, "base64url");
}

function parseJsonObject(bytes: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new Error("invalid character looking for beginning of value");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`json: cannot unmarshal ${jsonKind(value)} into Go value of type ${what}`);
  }
  return value as Record<string, unknown>;
}

function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  return typeof value === "object" ? "object" : typeof value === "boolean" ? "bool" : typeof value;
}

const STRING_CLAIMS = ["aud", "jti", "iss", "sub"] as const;
const INT_CLAIMS = ["exp", "iat", "nbf"] as const;

/** Decode into StandardClaims the way encoding/json would (names matched case-insensitively). */
function toStandardClaims(raw: Record<string, unknown>): StandardClaims {
  const claims: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(raw)) {
    const name = key.toLowerCase();
    const field = `StandardClaims.${name}`;
    if ((STRING_CLAIMS as readonly string[]).includes(name)) {
      if (value === null) continue;
      if (typeof value !== "string")
        throw new Error(
          `json: cannot unmarshal ${jsonKind(value)} into Go struct field ${field} of type string`,
        );
      claims[name] = value;
    } else if ((INT_CLAIMS as readonly string[]).includes(name)) {
      if (value === null) continue;
      if (typeof value !== "number" || !Number.isSafeInteger(value)) {
        const kind = typeof value === "number" ? `number ${value}` : jsonKind(value);
        throw new Error(`json: cannot unmarshal ${kind} into Go struct field ${field} of type int64`);
      }
      claims[name] = value;
    }
  }
  return claims as StandardClaims;
}

/** Go's time.Duration.String() for whole seconds. */
function goDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/**
 * jwt-go v3.2 ParseWithClaims with a keyfunc that returns the secret for any algorithm: parse,
 * check the claims (the last failing check names the error), then the signature (whose error
 * wins over any claim error).
 */
export function verifyJwt(token: string, secret: string, nowSeconds: number): VerifyResult {
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, error: "token contains an invalid number of segments" };
  let header: Record<string, unknown>;
  let claims: StandardClaims;
  try {
    try {
      header = parseJsonObject(decodeSegment(parts[0]!), "map[string]interface {}");
    } catch (err) {
      if (token.toLowerCase().startsWith("bearer "))
        throw new Error("tokenstring should not contain 'bearer '");
      throw err;
    }
    claims = toStandardClaims(parseJsonObject(decodeSegment(parts[1]!), "jwt.StandardClaims"));
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
  const alg = header.alg;
  if (typeof alg !== "string") return { ok: false, error: "signing method (alg) is unspecified." };
  if (!(alg in HMAC_ALGS) && !NON_HMAC_ALGS.has(alg) && alg !== "none")
    return { ok: false, error: "signing method (alg) is unavailable." };

  let error: string | undefined;
  if (claims.exp && nowSeconds > claims.exp)
    error = `token is expired by ${goDuration(nowSeconds - claims.exp)}`;
  if (claims.iat && nowSeconds < claims.iat) error = "Token used before issued";
  if (claims.nbf && nowSeconds < claims.nbf) error = "token is not valid yet";

  const signatureError = checkSignature(alg, `${parts[0]}.${parts[1]}`, parts[2]!, secret);
  if (signatureError) error = signatureError;
  return error ? { ok: false, error } : { ok: true, claims };
}

function checkSignature(alg: string, signingInput: string, signature: string, secret: string) {
  if (alg === "none") return "'none' signature type is not allowed";
  const hash = HMAC_ALGS[alg];
  if (!hash) return "key is of invalid type";
  let given: Buffer;
  try {
    given = decodeSegment(signature);
  } catch (err) {
    return (err as Error).message;
  }
  const expected = hmac(hash, secret, signingInput);
  return given.length === expected.length && timingSafeEqual(given, expected)
    ? undefined
    : "signature is invalid";
}
