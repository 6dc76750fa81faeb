/**
 * A Uint8Array password from a real browser (Chromium, the built bundle): mqtt.js's browser build
 * has its own private Buffer, so the bytes travel as their exact UTF-8 text; bytes that are not
 * UTF-8 cannot, and fail at once naming the field instead of never connecting.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedBroker, startBroker } from "../../adapters/testing/broker.js";
import { bundlePage } from "../../examples/chat/bundle.js";
import { type StaticServer, serveStatic } from "../../examples/chat/static-server.js";
import { chromiumBinary, launchChromium } from "../support/browser.js";

const pageDir = fileURLToPath(new URL("./credentials-page/", import.meta.url));
const PASSWORD = new TextEncoder().encode("pässwörd 🔑");

describe.skipIf(!chromiumBinary.available)("binary passwords in Chromium", () => {
  let broker: EmbeddedBroker;
  let server: StaticServer;
  let browser: Browser;
  const seen: Buffer[] = [];

  beforeAll(async () => {
    const buildDir = join(tmpdir(), `gmq-credentials-page-${process.pid}`);
    await bundlePage(join(pageDir, "page.ts"), buildDir);
    [broker, server, browser] = await Promise.all([
      startBroker({
        aedes: {
          authenticate: (_client, username, password, done) => {
            if (password) seen.push(Buffer.from(password));
            done(
              null,
              username === "alice" && password !== undefined && Buffer.from(PASSWORD).equals(password),
            );
          },
        },
      }),
      serveStatic({ dirs: [pageDir, buildDir] }),
      launchChromium(),
    ]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await broker?.close();
  });

  async function connect(password: Uint8Array) {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const query = new URLSearchParams({
        url: broker.wsUrl,
        username: "alice",
        password: Buffer.from(password).toString("hex"),
      });
      await page.goto(`${server.url}?${query}`);
      await page.waitForFunction(() => document.title === "ready");
      return await page.evaluate(() => (window as unknown as { result: Promise<unknown> }).result);
    } finally {
      await context.close();
    }
  }

  it("a UTF-8 Uint8Array password connects, its bytes exactly as given", async () => {
    expect(await connect(PASSWORD)).toEqual({ ok: true });
    expect(seen.at(-1)).toEqual(Buffer.from(PASSWORD));
  }, 30_000);

  it("bytes that are not UTF-8 fail at once with invalid_argument naming the password", async () => {
    const result = await connect(new Uint8Array([0xff, 0xfe, 0x00]));
    expect(result).toMatchObject({ ok: false, code: "invalid_argument", field: "password" });
  }, 30_000);
});
