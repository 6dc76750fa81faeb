/**
 * gRPC-web TEXT mode as a nice-grpc-web Transport: `application/grpc-web-text`, the request
 * body and the response base64-encoded. It is what the upstream grpc-web JS stub speaks, and
 * what some proxies accept only. Envoy encodes each response frame on its own, so padding may
 * appear inside the stream: it is decoded group by group, as chunks arrive.
 */
import { type Channel, ClientError, Metadata, Status } from "nice-grpc-web";

export interface TextTransportOptions {
  credentials?: RequestCredentials;
}

const CONTENT_TYPE = "application/grpc-web-text";

/** gRPC's status for an HTTP status that is not 200 (as nice-grpc-web's fetch transport). */
const HTTP_STATUS: Record<number, Status> = {
  400: 13,
  401: 16,
  403: 7,
  404: 12,
  429: 14,
  502: 14,
  503: 14,
  504: 14,
};

export function toBase64(bytes: Uint8Array): string {
  return btoa(Array.from(bytes, (byte) => String.fromCharCode(byte)).join(""));
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

/** Response headers as metadata; `-bin` values are base64 (comma-separated when repeated). */
function headerMetadata(headers: Headers): Metadata {
  const metadata = Metadata();
  headers.forEach((value, key) => {
    if (key.endsWith("-bin")) for (const item of value.split(/,\s?/)) metadata.append(key, fromBase64(item));
    else metadata.set(key, value);
  });
  return metadata;
}

export function GrpcWebTextTransport(options: TextTransportOptions = {}): Channel["transport"] {
  return async function* textTransport({ url, body, metadata, signal, method }) {
    let request: Uint8Array = new Uint8Array(0);
    for await (const frame of body) {
      request = frame;
      break;
    }
    const headers = new Headers();
    for (const [key, values] of metadata) {
      for (const value of values) headers.append(key, typeof value === "string" ? value : toBase64(value));
    }
    headers.set("content-type", CONTENT_TYPE);
    headers.set("accept", CONTENT_TYPE);
    const response = await fetch(url, {
      method: "POST",
      body: toBase64(request),
      headers,
      signal,
      ...(options.credentials && { credentials: options.credentials }),
    });
    yield { type: "header", header: headerMetadata(response.headers) };
    if (!response.ok) {
      const status = HTTP_STATUS[response.status] ?? Status.UNKNOWN;
      throw new ClientError(method.path, status, `HTTP ${response.status}`);
    }
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let pending = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      pending += value.replace(/\s+/g, "");
      const whole = pending.length - (pending.length % 4);
      // One segment per padded group run: atob takes padding only at the end.
      for (const segment of pending.slice(0, whole).match(/[^=]+=*|=+/g) ?? []) {
        yield { type: "data", data: fromBase64(segment) };
      }
      pending = pending.slice(whole);
    }
    if (pending) throw new Error("malformed");
  };
}
