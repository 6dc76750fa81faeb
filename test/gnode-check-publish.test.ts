/**
 * What a gmq node would refuse is refused by `publish` itself, before the outbox: a queued
 * message must not be dropped later for something that was wrong from the start.
 */
import { createClient, GmqError, type Transport } from "gmq";
import { gnode } from "gmq/gnode";
import { gnodeHttp } from "gmq/gnode-http";
import { describe, expect, it } from "vitest";

const transports: [string, () => Transport][] = [
  [
    "gnode-http",
    () =>
      gnodeHttp({ url: "http://127.0.0.1:1", topics: { fanout: { routing: "regex" } }, maxBodyBytes: 1024 }),
  ],
  [
    "gnode (TCP)",
    () =>
      gnode({
        nodes: [{ tcp: "127.0.0.1:1", http: "http://127.0.0.1:1" }],
        topics: { fanout: { routing: "regex" } },
        maxBodyBytes: 1024,
      }),
  ],
];

describe.each(transports)("publish checks on %s", (_name, transport) => {
  it("refuses a bad delay, route key or oversize payload at once, and queues nothing", async () => {
    const c = createClient({ transport: transport(), autoConnect: false });
    const refused = async (work: Promise<unknown>): Promise<[string, string | undefined]> => {
      const error = await work.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(GmqError.is(error)).toBe(true);
      return [(error as GmqError).code, (error as GmqError).field];
    };
    expect(await refused(c.publish("jobs", 1, { delayMs: 4 * 24 * 3600 * 1000 }))).toEqual([
      "invalid_argument",
      "delayMs",
    ]);
    expect(await refused(c.publish("jobs", 1, { routeKey: "has space" }))).toEqual([
      "invalid_argument",
      "routeKey",
    ]);
    expect(await refused(c.publish("fanout", 1, { routeKey: "(?=lookahead)" }))).toEqual([
      "invalid_argument",
      "routeKey",
    ]);
    expect(await refused(c.publish("jobs", new Uint8Array(2048)))).toEqual(["payload_too_large", "payload"]);
    expect(c.outboxStats().count).toBe(0);
    // A valid one is queued (nothing is reachable here).
    expect((await c.publish("jobs", 1, { routeKey: "email", delayMs: 10_000 })).status).toBe("queued");
    await c.close();
  });
});
