/**
 * Bundles a page (the chat, or a test page) for the browser from source with esbuild, resolving `gmq` and
 * `gmq/<adapter>` to this repository's sources, as a user's bundler resolves the package.
 */
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const root = fileURLToPath(new URL("../../", import.meta.url));

export const gmqSources: Plugin = {
  name: "gmq-sources",
  setup(builder) {
    builder.onResolve({ filter: /^gmq(\/[\w-]+)?$/ }, ({ path }) => ({
      path: path === "gmq" ? `${root}src/index.ts` : `${root}adapters/${path.slice(4)}/index.ts`,
    }));
  },
};

/** Bundles `entry` into `outdir` (same base name, `.js` + map); returns the bundle's bytes. */
export async function bundlePage(entry: string, outdir: string): Promise<number> {
  const result = await build({
    entryPoints: [entry],
    outdir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    sourcemap: true,
    metafile: true,
    plugins: [gmqSources],
    logLevel: "warning",
  });
  return Object.values(result.metafile.outputs).reduce((n, o) => (o.entryPoint ? n + o.bytes : n), 0);
}
