// Browser side of the benches (and of scripts/size.mjs): resolving `gmq` / `gmq/<name>` to the
// sources for esbuild, bundling a page, serving it, and headless Chromium from the system.
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CHROMIUM_ARGS } from "../scripts/chromium-args.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
export const CHROMIUM = "/usr/bin/chromium";

/** As examples/chat/bundle.ts: `gmq` → src/index.ts, `gmq/<name>` → adapters/<name>/index.ts, or
 *  adapters/<name>/browser.ts where the package has a browser build of that entry. */
export const gmqSources = {
  name: "gmq-sources",
  setup(builder) {
    builder.onResolve({ filter: /^gmq(\/[\w-]+)?$/ }, ({ path }) => {
      if (path === "gmq") return { path: join(root, "src/index.ts") };
      const dir = join(root, "adapters", path.slice(4));
      const browser = join(dir, "browser.ts");
      return { path: existsSync(browser) ? browser : join(dir, "index.ts") };
    });
  },
};

/** A fresh directory under .tmp/ (git-ignored, inside the project so bare imports resolve). */
export function tempDir(prefix) {
  mkdirSync(join(root, ".tmp"), { recursive: true });
  const dir = mkdtempSync(join(root, ".tmp", prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Bundles a page script for the browser from the sources, like a user's bundler would. */
export async function bundlePage(entry, outdir) {
  const { build } = await import("esbuild");
  await build({
    entryPoints: [entry],
    outdir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    plugins: [gmqSources],
    logLevel: "warning",
  });
}

/** examples/chat/static-server.ts, compiled with esbuild so the benches run on plain node. */
export async function serveStatic(options) {
  const { build } = await import("esbuild");
  const tmp = tempDir("bench-server-");
  const outfile = join(tmp.dir, "static-server.mjs");
  try {
    await build({
      entryPoints: [join(root, "examples/chat/static-server.ts")],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      packages: "external",
      logLevel: "error",
    });
    const module = await import(pathToFileURL(outfile).href);
    return await module.serveStatic(options);
  } finally {
    tmp.remove();
  }
}

export function hasChromium() {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Debian's Chromium through playwright-core; never a downloaded browser. */
export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS],
  });
}
