/** The shared transport contract over `gmq/gnode-http`, against the gnode emulator. */
import { runTransportContract } from "gmq/contract";
import { gnodeHttp } from "gmq/gnode-http";
import { afterEach, expect } from "vitest";
import { contractNode, feed, type GnodeContractSetup } from "./support/gnode-harness.js";

let current: GnodeContractSetup | undefined;

afterEach(() => {
  expect(current?.node.incidents ?? [], "gnode incidents").toEqual([]);
});

runTransportContract("gnode-http over the gnode emulator", {
  capabilities: gnodeHttp({ url: "http://127.0.0.1:1" }).capabilities,
  faults: { setOnline: true, endStreams: true },
  names: { topic: "contract" },
  stream: { pattern: "contract-stream", feed: (values) => feed(current!.node, "contract-stream", values) },
  setup: () =>
    contractNode(
      (s) => () => gnodeHttp({ url: s.http.url }),
      (s) => {
        current = s;
      },
    ),
});
