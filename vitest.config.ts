import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // Adapters, examples and tests import the core as "gmq" and adapters as "gmq/<name>", exactly
    // as a user or a third-party adapter would.
    alias: [
      { find: /^gmq$/, replacement: here("./src/index.ts") },
      { find: /^gmq\/([\w-]+)$/, replacement: here("./adapters/$1/index.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Integration suites start real servers on free ports; keep them from starving each other on 2 cores.
    maxWorkers: 2,
  },
});
