/** `gmq/testing` in a real browser: its browser build bundles without Node modules or aedes, and works. */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundlePage } from "../../examples/chat/bundle.js";
import { type StaticServer, serveStatic } from "../../examples/chat/static-server.js";
import { chromiumBinary, launchChromium } from "../support/browser.js";

const pageDir = fileURLToPath(new URL("./testing-page/", import.meta.url));

describe.skipIf(!chromiumBinary.available)("gmq/testing in Chromium", () => {
  let server: StaticServer;
  let browser: Browser;

  beforeAll(async () => {
    const buildDir = join(tmpdir(), `gmq-testing-page-${process.pid}`);
    await bundlePage(join(pageDir, "page.ts"), buildDir);
    [server, browser] = await Promise.all([serveStatic({ dirs: [pageDir, buildDir] }), launchChromium()]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("the memory transport runs in the page: a publish is heard and a call answered", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(server.url);
    await page.waitForFunction(() => document.title === "ready", undefined, { timeout: 10_000 });
    expect(await page.evaluate(() => (window as unknown as { result: unknown }).result)).toEqual({
      sum: 5,
      heard: "hi",
    });
    expect(errors).toEqual([]);
  });
});
