/**
 * `gmq/websocket` in real headless Chromium, against the hub: a publish/subscribe/call round
 * trip both ways (the page serves a call too), the IndexedDB outbox across a reload (each
 * message once), and a stream subscription that resumes after a reload from the position kept
 * in IndexedDB, getting the 500 messages published meanwhile in order, once.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Client, createClient } from "gmq";
import { waitFor } from "gmq/contract";
import { websocket } from "gmq/websocket";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { bundlePage } from "../../examples/chat/bundle.js";
import { type StaticServer, serveStatic } from "../../examples/chat/static-server.js";
import { chromiumBinary, launchChromium } from "../support/browser.js";
import { type RestartableHub, startRestartableHub } from "../support/hub-harness.js";

const pageDir = fileURLToPath(new URL("./websocket-page/", import.meta.url));

describe.skipIf(!chromiumBinary.available)("gmq/websocket in Chromium", () => {
  let hub: RestartableHub;
  let server: StaticServer;
  let browser: Browser;
  let run = 0;
  const clients: Client[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    const buildDir = join(tmpdir(), `gmq-websocket-page-${process.pid}`);
    await bundlePage(join(pageDir, "page.ts"), buildDir);
    [hub, server, browser] = await Promise.all([
      startRestartableHub(),
      serveStatic({ dirs: [pageDir, buildDir] }),
      launchChromium(),
    ]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await hub?.close();
  });
  afterEach(async () => {
    await hub.start();
    for (const context of contexts.splice(0)) await context.close();
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  function node(): Client {
    const c = createClient({
      transport: websocket({ url: hub.url }),
      reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    });
    c.on("error", () => {});
    clients.push(c);
    return c;
  }

  async function open(store: string): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    page.on("pageerror", (error) => console.error("page error:", error.message));
    await page.goto(`${server.url}?${new URLSearchParams({ url: hub.url, store })}`);
    await page.waitForFunction(() => document.title === "ready");
    return page;
  }

  const got = (page: Page, topic: string) => page.evaluate((t) => (window as any).ws.got(t), topic);

  it("publishes, subscribes and calls both ways between a page and Node", async () => {
    const topic = `browser/roundtrip/${++run}`;
    const page = await open(`roundtrip-${run}`);
    await page.evaluate((t) => (window as any).ws.subscribe(t), topic);
    await page.evaluate(() => (window as any).ws.handle("Page", "double"));
    const n = node();
    const heard: unknown[] = [];
    await n.subscribe(`${topic}/back`, (m) => void heard.push(m.data)).ready;
    n.handle("Node", "double", (args: { n: number }) => ({ doubled: args.n * 2, by: "node" }));

    await n.publish(topic, { hello: "page", bytes: [1, 2, 3] });
    await page.waitForFunction((t) => (window as any).ws.got(t).length === 1, topic);
    expect(await got(page, topic)).toEqual([{ hello: "page", bytes: [1, 2, 3] }]);

    const sent = await page.evaluate(
      (t) => (window as any).ws.publish(`${t}/back`, ["from the page"]),
      topic,
    );
    expect(sent[0].status).toBe("sent");
    await waitFor(() => heard.length === 1, 5_000, "the page's message");
    expect(heard).toEqual(["from the page"]);

    await new Promise((r) => setTimeout(r, 100));
    expect(await page.evaluate(() => (window as any).ws.call("Node", "double", { n: 4 }))).toEqual({
      doubled: 8,
      by: "node",
    });
    expect(await n.call("Page", "double", { n: 5 }, { timeoutMs: 5_000 })).toEqual({
      doubled: 10,
      by: "page",
    });
  });

  it("messages published while the hub is down survive a reload and arrive once", async () => {
    const topic = `browser/outbox/${++run}`;
    const n = node();
    const heard: number[] = [];
    await n.subscribe<number>(topic, (m) => void heard.push(m.data)).ready;
    await hub.stop();
    const page = await open(`outbox-${run}`);
    const results = await page.evaluate(
      (t) =>
        (window as any).ws.publish(
          t,
          Array.from({ length: 25 }, (_, i) => i),
        ),
      topic,
    );
    expect(results.map((r: { status: string }) => r.status)).toEqual(Array(25).fill("queued"));
    await page.reload();
    await page.waitForFunction(() => document.title === "ready");
    await page.waitForFunction(() => (window as any).ws.stats().count === 25);
    await hub.start();
    await waitFor(() => heard.length >= 25, 20_000, "25 messages");
    await page.waitForFunction(() => (window as any).ws.stats().count === 0, undefined, { timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 500));
    expect(heard).toEqual(Array.from({ length: 25 }, (_, i) => i));
  }, 60_000);

  it("a stream subscription resumes after a reload from its IndexedDB position: 500 missed, in order, once", async () => {
    const topic = `browser/recovery/${++run}`;
    const page = await open(`recovery-${run}`);
    await page.evaluate((t) => (window as any).ws.subscribe(t), topic);
    const n = node();
    await Promise.all(Array.from({ length: 5 }, (_, i) => n.publish(topic, i)));
    await page.waitForFunction((t) => (window as any).ws.got(t).length === 5, topic);
    await new Promise((r) => setTimeout(r, 300)); // the position reaches IndexedDB
    await page.reload();
    await page.waitForFunction(() => document.title === "ready");
    // Not subscribed now: everything published here is missed, then recovered.
    await Promise.all(Array.from({ length: 500 }, (_, i) => n.publish(topic, 5 + i)));
    await page.evaluate((t) => (window as any).ws.subscribe(t), topic);
    await page.waitForFunction((t) => (window as any).ws.got(t).length >= 500, topic, { timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 300));
    expect(await got(page, topic)).toEqual(Array.from({ length: 500 }, (_, i) => 5 + i));
    expect(await page.evaluate((t) => (window as any).ws.recovered(t), topic)).toEqual([true]);
  }, 60_000);
});
