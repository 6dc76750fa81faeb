/**
 * The IndexedDB outbox in real Chromium: what a page publishes while the broker is unreachable
 * survives a reload and arrives exactly once when the broker returns; two tabs sharing one outbox
 * never send the same message twice (counted on the wire, as the broker receives them).
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "gmq";
import { waitFor } from "gmq/contract";
import { mqtt } from "gmq/mqtt";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type EmbeddedBroker, startBroker } from "../../adapters/testing/broker.js";
import { bundlePage } from "../../examples/chat/bundle.js";
import { type StaticServer, serveStatic } from "../../examples/chat/static-server.js";
import { chromiumBinary, launchChromium } from "../support/browser.js";
import { recordScenario, tally } from "../support/reliability.js";

const pageDir = fileURLToPath(new URL("./outbox-page/", import.meta.url));

describe.skipIf(!chromiumBinary.available)("IndexedDB outbox in Chromium", () => {
  let broker: EmbeddedBroker;
  let server: StaticServer;
  let browser: Browser;
  let run = 0;

  beforeAll(async () => {
    const buildDir = join(tmpdir(), `gmq-outbox-page-${process.pid}`);
    await bundlePage(join(pageDir, "page.ts"), buildDir);
    [broker, server, browser] = await Promise.all([
      startBroker(),
      serveStatic({ dirs: [pageDir, buildDir] }),
      launchChromium(),
    ]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await broker?.close();
  });
  beforeEach(async () => {
    if (!broker.listening) await broker.restart();
  });

  /** Every publish the broker receives from a client on `topic`, in arrival order: what the
   *  pages put on the wire (a subscriber would also see the broker's own redeliveries). */
  async function wireCounter(topic: string) {
    const values: number[] = [];
    let counting = true;
    broker.aedes.on("publish", (packet, client) => {
      if (!counting || !client || packet.topic !== topic) return;
      // The envelope carries the payload base64; decode it to read the value.
      const envelope = JSON.parse(packet.payload.toString());
      values.push(JSON.parse(Buffer.from(envelope.p, "base64").toString()).value);
    });
    return {
      values,
      close: async () => {
        counting = false;
      },
    };
  }

  /** Pages opened on one context share its storage (IndexedDB, Web Locks), like tabs. */
  async function open(context: BrowserContext, query: Record<string, string>): Promise<Page> {
    const page = await context.newPage();
    page.on("pageerror", (error) => console.error("page error:", error.message));
    await page.goto(`${server.url}?${new URLSearchParams({ url: broker.wsUrl, ...query })}`);
    await page.waitForFunction(() => document.title === "ready");
    return page;
  }

  it("messages published offline survive a reload and arrive exactly once", async () => {
    const topic = `outbox/reload/${++run}`;
    const counter = await wireCounter(topic);
    recordScenario(() => ({
      scenario: "browser: page reloaded with an offline outbox (IndexedDB, Chromium)",
      injected: "25 messages published while the broker is down; the page reloads; the broker returns",
      ...tally(
        Array.from({ length: 25 }, (_, i) => i),
        counter.values,
      ),
      notes: "counted on the wire, as the broker receives them",
    }));
    await broker.stop(); // unreachable: the page cannot connect
    const context = await browser.newContext();
    const page = await open(context, { store: `reload-${run}` });
    const results = await page.evaluate(
      ([t]) =>
        (window as any).outbox.publish(
          t,
          Array.from({ length: 25 }, (_, i) => i),
        ),
      [topic],
    );
    expect(results.map((r: { status: string }) => r.status)).toEqual(Array(25).fill("queued"));
    expect(results.every((r: { durable: boolean }) => r.durable)).toBe(true);
    await page.reload();
    await page.waitForFunction(() => document.title === "ready");
    await page.waitForFunction(() => (window as any).outbox.stats().count === 25);
    await broker.restart();
    await waitFor(() => counter.values.length >= 25, 20_000, "25 deliveries");
    await page.waitForFunction(() => (window as any).outbox.stats().count === 0, undefined, {
      timeout: 10_000,
    });
    await new Promise((r) => setTimeout(r, 500)); // a second copy would have arrived by now
    expect(counter.values).toEqual(Array.from({ length: 25 }, (_, i) => i));
    await context.close();
    await counter.close();
  }, 60_000);

  it("a page reloaded mid-flush delivers every message exactly once to a gmq receiver", async () => {
    const topic = `outbox/midflush/${++run}`;
    const receiver = createClient({
      transport: mqtt({
        url: broker.tcpUrl,
        envelope: true,
        protocolVersion: 4,
        clientId: `rx-${run}`,
        clean: false,
      }),
      reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    });
    receiver.on("error", () => {});
    const got: number[] = [];
    await receiver.subscribe<{ value: number }>(topic, (m) => {
      got.push(m.data.value);
    }).ready;
    const total = 300;
    recordScenario(() => ({
      scenario: "browser: page reloaded mid-flush (IndexedDB, Chromium)",
      injected: `the page reloads while flushing ${total} queued messages`,
      ...tally(
        Array.from({ length: total }, (_, i) => i),
        got,
      ),
      notes: "at a gmq receiver (dedup by id)",
    }));
    await broker.stop();
    const context = await browser.newContext();
    const page = await open(context, { store: `midflush-${run}` });
    await page.evaluate(
      ([t, n]) =>
        (window as any).outbox.publish(
          t,
          Array.from({ length: n as number }, (_, i) => i),
        ),
      [topic, total],
    );
    await broker.restart();
    await waitFor(() => got.length > 0, 20_000, "the flush to start");
    await page.reload(); // mid-flush: some records are sent, some in flight, some still queued
    await page.waitForFunction(() => document.title === "ready");
    await waitFor(() => got.length >= total, 20_000, `${total} messages`);
    await page.waitForFunction(() => (window as any).outbox.stats().count === 0, undefined, {
      timeout: 10_000,
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(got.length).toBe(total);
    expect([...got].sort((x, y) => x - y)).toEqual(Array.from({ length: total }, (_, i) => i));
    await context.close();
    await receiver.close();
  }, 60_000);

  it("two tabs on one outbox elect one sender and send nothing twice", async () => {
    const topic = `outbox/tabs/${++run}`;
    const counter = await wireCounter(topic);
    recordScenario(() => ({
      scenario: "browser: two tabs sharing one outbox (IndexedDB, Web Locks, Chromium)",
      injected: "two tabs queue 5 messages each while the broker is down; both see all 10",
      ...tally(
        Array.from({ length: 10 }, (_, i) => i),
        counter.values,
      ),
      notes: "counted on the wire: one elected sender, nothing sent twice",
    }));
    await broker.stop();
    const store = `tabs-${run}`;
    const context = await browser.newContext();
    const [a, b] = [await open(context, { store, tab: "a" }), await open(context, { store, tab: "b" })];
    expect(await a.evaluate(() => (window as any).outbox.shared())).toBe(true);
    await a.evaluate(([t]) => (window as any).outbox.publish(t, [0, 1, 2, 3, 4]), [topic]);
    await b.evaluate(([t]) => (window as any).outbox.publish(t, [5, 6, 7, 8, 9]), [topic]);
    // Both tabs see all ten records, so two senders would send each of them twice.
    for (const page of [a, b]) await page.waitForFunction(() => (window as any).outbox.stats().count === 10);
    await broker.restart();
    await waitFor(() => counter.values.length >= 10, 20_000, "10 deliveries");
    await new Promise((r) => setTimeout(r, 1_000)); // time for any duplicate flush to show up
    expect(counter.values.length).toBe(10);
    expect([...counter.values].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Each tab's own messages keep their order on the wire.
    expect(counter.values.filter((v) => v < 5)).toEqual([0, 1, 2, 3, 4]);
    expect(counter.values.filter((v) => v >= 5)).toEqual([5, 6, 7, 8, 9]);
    await a.waitForFunction(() => (window as any).outbox.stats().count === 0, undefined, { timeout: 10_000 });
    await context.close();
    await counter.close();
  }, 60_000);
});
