import type { OutboxRecord } from "gmq";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The value stored for a record: only its own fields, and a payload that is exactly its bytes.
 * Structured clone copies a view's whole ArrayBuffer, so a payload sliced from a larger buffer
 * (a pooled Node Buffer, a frame) would otherwise store all of it; a Buffer would also come back
 * as a plain Uint8Array anyway.
 */
export function toStored(record: OutboxRecord): OutboxRecord {
  const p = record.payload;
  const exact = p.constructor === Uint8Array && p.byteOffset === 0 && p.byteLength === p.buffer.byteLength;
  const stored: Mutable<OutboxRecord> = {
    id: record.id,
    topic: record.topic,
    payload: exact ? p : new Uint8Array(p),
    qos: record.qos,
    createdAt: record.createdAt,
  };
  if (record.headers !== undefined) stored.headers = { ...record.headers };
  if (record.retain !== undefined) stored.retain = record.retain;
  if (record.key !== undefined) stored.key = record.key;
  if (record.expiresAt !== undefined) stored.expiresAt = record.expiresAt;
  if (record.delayMs !== undefined) stored.delayMs = record.delayMs;
  if (record.routeKey !== undefined) stored.routeKey = record.routeKey;
  return stored;
}

/** A stored value back as a record, or undefined when it is not one (written by something else). */
export function fromStored(value: unknown): OutboxRecord | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const r = value as Mutable<OutboxRecord> & { payload: unknown };
  if (typeof r.id !== "string" || typeof r.topic !== "string" || typeof r.createdAt !== "number")
    return undefined;
  if (r.qos !== 1 && r.qos !== 2) return undefined;
  if (r.payload instanceof ArrayBuffer) r.payload = new Uint8Array(r.payload);
  else if (!(r.payload instanceof Uint8Array)) return undefined;
  return r as OutboxRecord;
}
