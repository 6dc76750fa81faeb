import { createClient, GmqError } from "gmq";
import { runTransportContract } from "gmq/contract";
import { afterAll, describe, expect, it } from "vitest";
import { broadcastChannelTransport } from "../examples/custom-adapter/broadcast-channel-transport.js";
import { fetchTransport } from "../examples/custom-adapter/fetch-transport.js";
import { type RpcServer, startRpcServer } from "../examples/custom-adapter/rpc-server.js";
import { recordScenario } from "./support/reliability.js";

let run = 0;
runTransportContract("custom adapter: BroadcastChannel (examples/custom-adapter)", {
  capabilities: broadcastChannelTransport({ name: "probe" }).capabilities,
  onScenario: recordScenario,
  async setup() {
    const name = `contract-${++run}-${Date.now()}`;
    return { transport: () => broadcastChannelTransport({ name }) };
  },
});

const handlers = {
  "Echo/echo": (args: unknown) => args,
  "Slow/wait": () => new Promise((resolve) => setTimeout(resolve, 5_000)),
};

runTransportContract("custom adapter: fetch, request-only (examples/custom-adapter)", {
  capabilities: fetchTransport({ url: "http://127.0.0.1:1/" }).capabilities,
  onScenario: recordScenario,
  faults: { setOnline: true },
  reportsNoResponder: true,
  names: { topic: "audit/log", service: "Echo", method: "echo" },
  echo: { service: "Echo", method: "echo" },
  slow: { service: "Slow", method: "wait" },
  async setup() {
    const server = await startRpcServer(handlers);
    return {
      transport: () => fetchTransport({ url: server.url }),
      setOnline: (online) => (online ? server.start().catch(() => {}) : server.stop()),
      received: (topic) => server.published(topic),
      teardown: () => server.close(),
    };
  },
});

describe("names per transport", () => {
  let server: RpcServer;
  afterAll(() => server?.close());

  it("a method name with `/` is accepted where the transport allows it and refused where it does not", async () => {
    server = await startRpcServer({ "gapi/comments/list": () => ["first"] });
    const http = createClient({ transport: fetchTransport({ url: server.url }) });
    expect(await http.call("gapi", "comments/list")).toEqual(["first"]);
    const bus = createClient({ transport: broadcastChannelTransport({ name: "names" }), autoConnect: false });
    const refused = await bus.call("gapi", "comments/list").catch((e: unknown) => e);
    expect(GmqError.is(refused) && refused.code).toBe("invalid_argument");
    expect((refused as GmqError).field).toBe("method");
    await Promise.all([http.close(), bus.close()]);
  });
});
