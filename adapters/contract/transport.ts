/**
 * The shared transport contract suite. Every adapter runs it through the public client API:
 *
 *   runTransportContract("mqtt over aedes", { capabilities, setup: async () => harness })
 *
 * Tests that need a capability the transport lacks are not registered (the list of what ran is
 * in the test names); everything registered asserts real behaviour against a real backend. The
 * sections follow the shapes the contract knows: link or request-only, routed or stream inbound.
 */
import { afterAll, afterEach, beforeAll, describe } from "vitest";
import { basicSection } from "./basic.js";
import { callSection } from "./calls.js";
import { type ContractOptions, clientFactory, type TransportHarness } from "./context.js";
import { pubsubSection } from "./pubsub.js";
import { requestOnlySection } from "./request-only.js";
import { streamSection } from "./streams.js";

export type { ContractOptions, ContractScenario, TransportHarness } from "./context.js";
export { tally, waitFor } from "./context.js";

export function runTransportContract(name: string, options: ContractOptions): void {
  describe(`transport contract: ${name}`, () => {
    let harness: TransportHarness | undefined;
    const factory = clientFactory(() => harness!);
    const ctx = {
      name,
      caps: options.capabilities,
      options,
      get harness() {
        return harness!;
      },
      client: factory.client,
    };

    beforeAll(async () => {
      harness = await options.setup();
    });
    afterEach(async () => {
      await harness?.setOnline?.(true);
      await factory.closeAll();
    });
    afterAll(async () => {
      await harness?.teardown?.();
    });

    basicSection(ctx);
    pubsubSection(ctx);
    callSection(ctx);
    if (options.capabilities.connection === "request") requestOnlySection(ctx);
    if (options.capabilities.inbound === "stream") streamSection(ctx);
  });
}
