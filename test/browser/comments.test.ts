/**
 * The example comments page (gmq/grpc-web + the IndexedDB outbox) in real headless Chromium,
 * as `npm start` serves it: a comment posted online shows at once; comments posted while the
 * browser is offline wait in the outbox, marked as waiting, and reach the server in order when
 * it is back online. Screenshots of the three moments land in test-output/.
 */
import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChatDemo, startChatDemo } from "../../examples/chat/demo.js";
import { chromiumBinary, launchChromium } from "../support/browser.js";

const OUTPUT = "test-output";

describe.skipIf(!chromiumBinary.available)("comments page in Chromium", () => {
  let demo: ChatDemo;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    [demo, browser] = await Promise.all([startChatDemo({ port: 0 }), launchChromium()]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await demo?.close();
  });

  const post = async (page: Page, text: string) => {
    await page.fill("[data-testid=content]", text);
    await page.click("[data-testid=post]");
  };
  const shown = (page: Page) =>
    page.$$eval("#comments li", (items) =>
      items.map((li) => ({
        text: li.lastChild?.textContent ?? "",
        waiting: li.classList.contains("waiting"),
      })),
    );

  it("posts online, queues while offline, and sends the queue in order when back online", async () => {
    const context = await browser.newContext({ viewport: { width: 900, height: 640 } });
    try {
      const page = await context.newPage();
      page.on("pageerror", (error) => console.error("page error:", error.message));
      await page.goto(`${demo.commentsUrl}?target=42`);
      await page.waitForSelector('[data-testid=state][data-state="connected"]', { timeout: 15_000 });

      await post(page, "Hello from gmq over gRPC-web");
      await page.waitForFunction(() => document.querySelectorAll("#comments li:not(.waiting)").length === 1);
      await page.screenshot({ path: `${OUTPUT}/comments-online.png` });

      await context.setOffline(true);
      await post(page, "written offline, first");
      await post(page, "written offline, second");
      await page.waitForSelector('[data-testid=outbox]:has-text("2 waiting in outbox")', { timeout: 10_000 });
      await page.waitForSelector('[data-testid=state][data-state="disconnected"]', { timeout: 10_000 });
      expect(await shown(page)).toEqual([
        { text: "Hello from gmq over gRPC-web", waiting: false },
        { text: "written offline, first", waiting: true },
        { text: "written offline, second", waiting: true },
      ]);
      await page.screenshot({ path: `${OUTPUT}/comments-offline.png` });

      await context.setOffline(false);
      await page.waitForSelector("[data-testid=outbox]", { state: "hidden", timeout: 15_000 });
      await page.waitForFunction(() => document.querySelectorAll("#comments li:not(.waiting)").length === 3, {
        timeout: 10_000,
      });
      expect(await shown(page)).toEqual([
        { text: "Hello from gmq over gRPC-web", waiting: false },
        { text: "written offline, first", waiting: false },
        { text: "written offline, second", waiting: false },
      ]);
      await page.screenshot({ path: `${OUTPUT}/comments-back-online.png` });
      const stored = demo.comments.comments.rows.filter((row) => row.targetId === 42);
      expect(stored.map((row) => row.content)).toEqual([
        "Hello from gmq over gRPC-web",
        "written offline, first",
        "written offline, second",
      ]);
    } finally {
      await context.close();
    }
  });
});
