import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // Adapters import the core as "gmq", exactly as a third-party adapter would.
    alias: { gmq: fileURLToPath(new URL("./src/index.ts", import.meta.url)) },
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Integration suites start real servers on free ports; keep them from starving each other on 2 cores.
    maxWorkers: 2,
  },
});
