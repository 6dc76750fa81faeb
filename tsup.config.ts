import { defineConfig } from "tsup";

/**
 * One entry per public subpath. `scripts/check-exports.mjs` fails the build when this list and
 * package.json "exports" disagree. Adapters import the core as "gmq", which stays external, so
 * every entry shares one copy of the core (one GmqError class for instanceof).
 */
export const entries: Record<string, string> = {
  index: "src/index.ts",
  testing: "adapters/testing/index.ts",
  "testing-browser": "adapters/testing/browser.ts",
  contract: "adapters/contract/index.ts",
  mqant: "adapters/mqant/index.ts",
  mqtt: "adapters/mqtt/index.ts",
  "mqtt-browser": "adapters/mqtt/browser.ts",
  "gnode-http": "adapters/gnode-http/index.ts",
  gnode: "adapters/gnode/index.ts",
  "store-file": "adapters/store-file/index.ts",
  "store-indexeddb": "adapters/store-indexeddb/index.ts",
  hub: "adapters/hub/index.ts",
  websocket: "adapters/websocket/index.ts",
  "websocket-browser": "adapters/websocket/browser.ts",
  "websocket-gw123": "adapters/websocket-gw123/index.ts",
  "grpc-web": "adapters/grpc-web/index.ts",
  http: "adapters/http/index.ts",
};

export default defineConfig({
  entry: entries,
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  treeshake: true,
  target: "es2022",
  platform: "neutral",
  external: ["gmq", /^node:/],
  esbuildOptions(options) {
    options.alias = { gmq: "gmq" };
  },
});
