/**
 * Bundles a page (the chat, or a test page) for the browser with esbuild, against the BUILT
 * package (`npm run build` → dist/): `gmq` and `gmq/<name>` resolve to dist/<entry>.js, exactly
 * what a user's bundler gets from the published package.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const dist = fileURLToPath(new URL("../../dist/", import.meta.url));

export const gmqPackage: Plugin = {
  name: "gmq-package",
  setup(builder) {
    builder.onResolve({ filter: /^gmq(\/[\w-]+)?$/ }, ({ path }) => {
      const file = `${dist}${path === "gmq" ? "index" : path.slice(4)}.js`;
      if (!existsSync(file)) return { errors: [{ text: `${file} is missing: run \`npm run build\` first` }] };
      return { path: file };
    });
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
    plugins: [gmqPackage],
    logLevel: "warning",
  });
  return Object.values(result.metafile.outputs).reduce((n, o) => (o.entryPoint ? n + o.bytes : n), 0);
}
