/**
 * What a transport can tell the connection state machine: a permanent loss mid-session stops the
 * reconnecting, a loss with `reconnectNow` is followed by an immediate attempt, and on a
 * request-only transport an answer during the onConnect setup makes the client connected.
 */
import { createClient, GmqError, type Transport, type TransportSink } from "gmq";
import { waitFor } from "gmq/contract";
import { createMemoryBroker } from "gmq/testing";
import { afterEach, describe, expect, it } from "vitest";
import { fetchTransport } from "../examples/custom-adapter/fetch-transport.js";
import { startRpcServer } from "../examples/custom-adapter/rpc-server.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** A memory transport whose current sink the test can report a loss on. */
function reporting() {
  const inner = createMemoryBroker().transport();
  let sink: TransportSink | undefined;
  let connects = 0;
  const transport: Transport = {
    ...inner,
    connect: (next, options) => {
      connects++;
      sink = {
        onMessage: (m) => next.onMessage(m),
        onError: (e) => next.onError(e),
        onDisconnect: (e, o) => next.onDisconnect(e, o),
      };
      return inner.connect!(sink, options);
    },
  };
  return {
    transport,
    connects: () => connects,
    lose: (error: GmqError, options?: { reconnectNow?: boolean }) => sink!.onDisconnect(error, options),
  };
}

describe("connection hints from the transport", () => {
  it("a permanent loss mid-session stops reconnecting, with the cause on the state change", async () => {
    const t = reporting();
    const c = createClient({ transport: t.transport, reconnect: { initialDelayMs: 5, maxDelayMs: 10 } });
    closers.push(() => c.close());
    c.on("error", () => {});
    await c.connect();
    t.lose(new GmqError("unauthenticated", "the server revoked the token"));
    await waitFor(() => c.state === "disconnected", 2_000, "the client to stop");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(t.connects()).toBe(1);
    const again = (await c.connect({ timeoutMs: 2_000 }).catch((e) => e)) as unknown;
    expect(again).toBeUndefined(); // the app asks again: a new attempt, which works here
    expect(t.connects()).toBe(2);
  });

  it("reconnectNow skips the backoff once, after a link that was up", async () => {
    const t = reporting();
    const c = createClient({
      transport: t.transport,
      reconnect: { initialDelayMs: 5_000, maxDelayMs: 5_000 },
    });
    closers.push(() => c.close());
    c.on("error", () => {});
    await c.connect();
    const lostAt = Date.now();
    t.lose(new GmqError("disconnected", "the server is shutting down"), { reconnectNow: true });
    await waitFor(() => t.connects() === 2 && c.state === "connected", 2_000, "an immediate reconnect");
    expect(Date.now() - lostAt).toBeLessThan(1_000); // the backoff here would be up to 5 s
  });

  it("request-only: an answer during the onConnect setup makes the client connected", async () => {
    const server = await startRpcServer({ "Auth/login": () => ({ token: "t" }) });
    closers.push(() => server.close());
    const c = createClient({
      transport: fetchTransport({ url: server.url }),
      onConnect: async (session) => {
        await session.call("Auth", "login", { user: "ann" }); // answered before setup ends
      },
    });
    closers.push(() => c.close());
    await c.connect();
    expect(c.state).toBe("connected");
  });
});
