/**
 * The example chat page in real headless Chromium, over each backend: two people log in, join a
 * room and talk; one goes offline, keeps typing, comes back, and the other receives exactly
 * those messages, in order. Screenshots land in test-output/ for a person to look at.
 */
import { mkdirSync } from "node:fs";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChatDemo, startChatDemo } from "../../examples/chat/demo.js";
import { chromiumBinary, launchChromium } from "../support/browser.js";

const OUTPUT = "test-output";

describe.skipIf(!chromiumBinary.available)("chat page in Chromium", () => {
  let demo: ChatDemo;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    [demo, browser] = await Promise.all([startChatDemo(), launchChromium()]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await demo?.close();
  });

  async function joinAs(context: BrowserContext, backend: string, user: string, room: string): Promise<Page> {
    const page = await context.newPage();
    page.on("pageerror", (error) => console.error(`[${user}] page error:`, error.message));
    await page.goto(`${demo.url}?backend=${backend}`);
    await page.fill("input[name=user]", user);
    await page.fill("input[name=room]", room);
    await page.click("#login button[type=submit]");
    await page.waitForSelector('[data-testid=state][data-state="connected"]', { timeout: 15_000 });
    return page;
  }

  const say = async (page: Page, text: string, target = "*") => {
    await page.selectOption("[data-testid=target]", target);
    await page.fill("[data-testid=text]", text);
    await page.click("[data-testid=send]");
  };

  /** The texts of other people's messages on a page, in order. */
  const heard = (page: Page) =>
    page.$$eval("#messages li:not(.mine):not(.notice)", (items) =>
      items.map((item) => item.lastChild?.textContent ?? ""),
    );

  for (const backend of ["mqant", "mqtt", "websocket"]) {
    it(`two people chat over ${backend}; one goes offline, sends, returns, and nothing is lost`, async () => {
      const room = `room_${backend}`;
      const annContext = await browser.newContext({ viewport: { width: 1000, height: 640 } });
      const bobContext = await browser.newContext({ viewport: { width: 1000, height: 640 } });
      try {
        const ann = await joinAs(annContext, backend, "ann", room);
        const bob = await joinAs(bobContext, backend, "bob", room);
        // Each sees the other in the member list.
        await ann.waitForSelector('#members li[data-user="bob"]');
        await bob.waitForSelector('#members li[data-user="ann"]');

        await say(ann, "hi bob");
        await bob.waitForFunction(
          () => document.querySelectorAll("#messages li:not(.mine):not(.notice)").length === 1,
        );
        await say(bob, "hello ann");
        await say(bob, "just for you", "ann");
        await ann.waitForFunction(
          () => document.querySelectorAll("#messages li:not(.mine):not(.notice)").length === 2,
        );
        expect(await heard(ann)).toEqual(["hello ann", "just for you"]);

        // Bob loses the network; what he types waits in his outbox (IndexedDB).
        await bobContext.setOffline(true);
        await bob.waitForSelector('[data-testid=state]:not([data-state="connected"])', { timeout: 15_000 });
        const offline = ["one", "two", "three"];
        for (const text of offline) await say(bob, text);
        await bob.waitForSelector("[data-testid=outbox]:not([hidden])");
        expect(await bob.textContent("[data-testid=outbox]")).toBe("3 waiting in outbox");
        expect(await bob.$$eval("#messages li.waiting", (items) => items.length)).toBe(3);
        await bob.screenshot({ path: `${OUTPUT}/chat-${backend}-bob-offline.png` });

        await bobContext.setOffline(false);
        await bob.waitForSelector('[data-testid=state][data-state="connected"]', { timeout: 20_000 });
        await bob.waitForSelector("[data-testid=outbox][hidden]", { state: "attached", timeout: 20_000 });
        await ann.waitForFunction(
          () => document.querySelectorAll("#messages li:not(.mine):not(.notice)").length >= 5,
          undefined,
          { timeout: 20_000 },
        );
        await new Promise((r) => setTimeout(r, 500)); // a duplicate would show up by now
        expect(await heard(ann)).toEqual(["hello ann", "just for you", ...offline]);
        expect(await bob.$$eval("#messages li.waiting", (items) => items.length)).toBe(0);
        await ann.screenshot({ path: `${OUTPUT}/chat-${backend}-ann.png` });
      } finally {
        await annContext.close();
        await bobContext.close();
      }
    }, 90_000);
  }
});
