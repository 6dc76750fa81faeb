/**
 * gmq/grpc-web and gmq/http from real Chromium against the gw123 test servers on other origins,
 * so every request passes CORS (the preflight included): Envoy's fixed allow list for gRPC-web
 * (a header outside it is refused by the browser before the request is sent), the web module's
 * configured origins for the HTTP API.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type CommentServer,
  CommentTable,
  createManualClock,
  type Gw123Http,
  startCommentServer,
  startGw123Http,
} from "gmq/testing";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundlePage } from "../../examples/chat/bundle.js";
import { type StaticServer, serveStatic } from "../../examples/chat/static-server.js";
import { chromiumBinary, launchChromium } from "../support/browser.js";

const pageDir = fileURLToPath(new URL("./rpc-page/", import.meta.url));
const NOW = Date.UTC(2019, 8, 23, 8, 0, 0);

type Outcome = { ok: true; value: any } | { ok: false; error: any };

describe.skipIf(!chromiumBinary.available)("gmq/grpc-web and gmq/http in Chromium", () => {
  let server: StaticServer;
  let browser: Browser;
  let grpc: CommentServer;
  let web: Gw123Http;
  let closedWeb: Gw123Http;
  const comments = new CommentTable();

  beforeAll(async () => {
    const buildDir = join(tmpdir(), `gmq-rpc-page-${process.pid}`);
    await bundlePage(join(pageDir, "page.ts"), buildDir);
    [server, browser, grpc] = await Promise.all([
      serveStatic({ dirs: [pageDir, buildDir] }),
      launchChromium(),
      startCommentServer({ comments, placeholder: false }),
    ]);
    const origin = new URL(server.url).origin;
    web = await startGw123Http({
      comments,
      allowOrigins: [origin],
      clock: createManualClock(NOW),
      users: [{ mobile: "13800000000", password: "pw" }],
    });
    closedWeb = await startGw123Http({ comments }); // no allowOrigins: no CORS at all
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await Promise.all([server?.close(), grpc?.close(), web?.close(), closedWeb?.close()]);
  });

  async function open(): Promise<Page> {
    const page = await browser.newPage();
    page.on("pageerror", (error) => console.error("page error:", error.message));
    await page.goto(server.url);
    await page.waitForFunction(() => document.title === "ready");
    return page;
  }

  for (const mode of ["binary", "text"] as const) {
    it(`gRPC-web (${mode}): calls, typed calls, a decoded error, metadata and a server stream`, async () => {
      const page = await open();
      const result = await page.evaluate(
        async ([url, mode]) => {
          const { createClient, grpcWeb, rpc, services, CommentServiceDefinition, plain } = (window as any)
            .rpcPage;
          const client = createClient({
            transport: grpcWeb({
              url,
              services,
              mode,
              metadata: () => ({ "custom-header-1": "from-the-page" }),
            }),
          });
          const attempt = async (work: () => Promise<unknown>) => {
            try {
              return { ok: true, value: await work() };
            } catch (error) {
              return { ok: false, error: plain(error) };
            }
          };
          const put = await attempt(() =>
            client.call("commentModule.CommentService", "putComment", {
              type: "resource",
              targetId: 5,
              content: `from ${mode}`,
            }),
          );
          const list = await attempt(() =>
            rpc(client, CommentServiceDefinition).getComments({
              type: "resource",
              targetId: 5,
              pageSize: 10,
            }),
          );
          const invalid = await attempt(() =>
            client.call("commentModule.CommentService", "getComments", { type: "resource", targetId: 0 }),
          );
          const ticks: unknown[] = [];
          await new Promise<void>((resolve) => {
            const sub = client.subscribe(
              "gmqtest.Ticker/ticks",
              (m: any) => {
                ticks.push(m.data);
                if (ticks.length === 3) void sub.unsubscribe().then(resolve);
              },
              { args: { intervalMs: 5, label: mode } },
            );
          });
          await client.close();
          return { put, list, invalid, ticks };
        },
        [grpc.url, mode] as const,
      );
      expect(result.put).toEqual({ ok: true, value: {} });
      const list = result.list as Outcome;
      expect(list.ok && list.value.comments.map((c: { content: string }) => c.content)).toContain(
        `from ${mode}`,
      );
      expect((result.invalid as Outcome & { ok: false }).error).toMatchObject({
        code: "remote",
        reason: "UNKNOWN",
        message: "参数错误1",
      });
      expect(result.ticks).toEqual([1, 2, 3].map((seq) => ({ seq, label: mode })));
      expect(grpc.calls.at(-1)?.mode).toBe(mode);
      expect(grpc.calls.at(-1)?.metadata["custom-header-1"]).toBe("from-the-page");
    });
  }

  it("gRPC-web: metadata outside Envoy's CORS allow list fails the preflight, so nothing is sent (`disconnected`)", async () => {
    const page = await open();
    const before = grpc.calls.length;
    const error = await page.evaluate(async (url) => {
      const { createClient, grpcWeb, services, plain } = (window as any).rpcPage;
      const client = createClient({
        transport: grpcWeb({ url, services, metadata: () => ({ "x-api-key": "k" }) }),
      });
      try {
        await client.call("gmqtest.Ticker", "echo", { text: "hi" });
        return undefined;
      } catch (e) {
        return plain(e);
      } finally {
        await client.close();
      }
    }, grpc.url);
    expect(error).toMatchObject({ code: "disconnected", reason: "UNREACHABLE" });
    expect(grpc.calls.length).toBe(before);
  });

  it("HTTP (gw123): envelopes, a JWT refreshed through the provider, a queued publish, and CORS", async () => {
    const page = await open();
    const expired = web.mintToken({ userId: 1, issuedAt: NOW / 1000 - 10, expiresAt: NOW / 1000 - 5 });
    const fresh = web.mintToken({ userId: 1 });
    const result = await page.evaluate(
      async ([url, closedUrl, expired, fresh]) => {
        const { createClient, http, plain } = (window as any).rpcPage;
        const asked: boolean[] = [];
        const client = createClient({
          transport: http({
            url,
            token: ({ refresh }: { refresh: boolean }) => {
              asked.push(refresh);
              return refresh ? fresh : expired;
            },
          }),
        });
        const attempt = async (work: () => Promise<unknown>) => {
          try {
            return { ok: true, value: await work() };
          } catch (error) {
            return { ok: false, error: plain(error) };
          }
        };
        const user = await attempt(() => client.call("gapi", "GET getUser"));
        const posted = await attempt(() =>
          client.publish("gapi/comment", {
            type: "resource",
            target_id: 6,
            content: "from the page",
            client_id: "p",
          }),
        );
        const listed = await attempt(() =>
          client.call("gapi", "comments", { type: "resource", target_id: 6 }),
        );
        const wrong = await attempt(() =>
          client.call("gapi", "login", { mobile: "13800000000", password: "x" }),
        );
        const other = createClient({ transport: http({ url: closedUrl }) });
        const blocked = await attempt(() =>
          other.call("gapi", "comments", { type: "resource", target_id: 6 }),
        );
        await Promise.all([client.close(), other.close()]);
        return { asked, user, posted, listed, wrong, blocked };
      },
      [web.url, closedWeb.url, expired, fresh] as const,
    );
    expect(result.user).toMatchObject({ ok: true, value: { id: 1, mobile: "13800000000" } });
    expect(result.asked.slice(0, 2)).toEqual([false, true]);
    expect(result.posted).toMatchObject({ ok: true, value: { status: "sent" } });
    expect(result.listed).toMatchObject({ ok: true, value: [{ content: "from the page", user_id: 1 }] });
    expect(result.wrong).toMatchObject({ ok: false, error: { code: "remote", reason: "CODE_402" } });
    // The server without allowOrigins sends no CORS headers: the browser refuses the preflight.
    expect(result.blocked).toMatchObject({
      ok: false,
      error: { code: "disconnected", reason: "UNREACHABLE" },
    });
  });
});
