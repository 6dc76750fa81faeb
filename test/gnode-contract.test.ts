/** The shared transport contract over `gmq/gnode` (TCP), against the gnode emulator. */
import { runTransportContract } from "gmq/contract";
import { gnode } from "gmq/gnode";
import { afterEach, expect } from "vitest";
import { contractNode, feed, type GnodeContractSetup } from "./support/gnode-harness.js";

let current: GnodeContractSetup | undefined;

afterEach(() => {
  expect(current?.node.incidents ?? [], "gnode incidents").toEqual([]);
});

runTransportContract("gnode (TCP) over the gnode emulator", {
  capabilities: gnode({ nodes: { tcp: "127.0.0.1:1", http: "http://127.0.0.1:1" } }).capabilities,
  faults: { setOnline: true, endStreams: true },
  names: { topic: "contract" },
  stream: { pattern: "contract-stream", feed: (values) => feed(current!.node, "contract-stream", values) },
  setup: () =>
    contractNode(
      (s) => () => gnode({ nodes: { tcp: `127.0.0.1:${s.tcp.port}`, http: s.http.url } }),
      (s) => {
        current = s;
      },
    ),
});
