/**
 * A bare page for the credentials browser test: connects once with the username and the password
 * bytes (hex) from the query, and reports how that went in `window.result`.
 */
import { createClient, GmqError } from "gmq";
import { mqtt } from "gmq/mqtt";

const params = new URLSearchParams(location.search);
const hex = params.get("password") ?? "";
const password = Uint8Array.from(hex.match(/../g) ?? [], (byte) => Number.parseInt(byte, 16));

async function run(): Promise<{ ok: boolean; code?: string; field?: string; message?: string }> {
  try {
    const client = createClient({
      transport: mqtt({
        url: params.get("url")!,
        protocolVersion: 4,
        envelope: true,
        username: params.get("username") ?? "",
        password,
      }),
      reconnect: false,
    });
    client.on("error", () => {});
    try {
      await client.connect({ timeoutMs: 5_000 });
      return { ok: true };
    } finally {
      await client.close();
    }
  } catch (error) {
    const e = GmqError.from(error);
    return { ok: false, code: e.code, field: e.field, message: e.message };
  }
}

(window as unknown as { result: Promise<unknown> }).result = run();
document.title = "ready";
