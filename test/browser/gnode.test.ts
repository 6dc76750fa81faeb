/**
 * gmq/gnode-http in real Chromium against the gnode emulator, through a same-origin proxy at
 * `/gnode` (the page cannot read a real node's replies cross-origin: no CORS).
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type GnodeEmulator, startGnode } from "gmq/testing";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundlePage } from "../../examples/chat/bundle.js";
import { chromiumBinary, launchChromium } from "../support/browser.js";
import { type PageWithProxy, servePageWithProxy } from "../support/gnode-proxy.js";

const pageDir = fileURLToPath(new URL("./gnode-page/", import.meta.url));

describe.skipIf(!chromiumBinary.available)("gmq/gnode-http in Chromium", () => {
  let node: GnodeEmulator;
  let site: PageWithProxy;
  let browser: Browser;

  beforeAll(async () => {
    const buildDir = join(tmpdir(), `gmq-gnode-page-${process.pid}`);
    await bundlePage(join(pageDir, "page.ts"), buildDir);
    node = await startGnode();
    [site, browser] = await Promise.all([
      servePageWithProxy([pageDir, buildDir], node.httpUrl),
      launchChromium(),
    ]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await site?.close();
    await node?.close();
  });

  it("publishes and pops through the same-origin proxy; nothing is left in flight or abandoned", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(site.url);
    await page.waitForFunction(() => document.title === "ready", undefined, { timeout: 15_000 });
    const result = (await page.evaluate(() => (window as unknown as { result: unknown }).result)) as {
      got: { data: unknown; id: string; gnodeId: string; count: number }[];
      bytes: number[][];
      sent: string[];
      state: string;
    };
    expect(errors).toEqual([]);
    expect(result.got.map((m) => m.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(result.got.map((m) => m.id)).toEqual(result.sent);
    for (const m of result.got) {
      expect(m.gnodeId).toMatch(/^\d{19,}$/);
      expect(m.count).toBe(0);
    }
    expect(result.bytes).toEqual([[0, 255, 128, 10]]);
    expect(result.state).toBe("closed");
    expect(node.topic("page")).toMatchObject({ mode: 1, isAutoAck: false });
    expect(node.topic("page")!.queues.inbox).toMatchObject({ unread: 0, inFlight: 0, consumers: 0 });

    // A preflight never reaches the node: the proxy answers OPTIONS itself.
    const preflight = await fetch(new URL("/gnode/pop?topic=page&bindKey=inbox", site.url), {
      method: "OPTIONS",
    });
    expect(preflight.status).toBe(204);
    expect(site.forwarded.OPTIONS).toBeUndefined();
    expect(node.topic("page")!.queues.inbox!.consumers).toBe(0);
    expect(node.incidents).toEqual([]);
    await page.close();
  });
});
