/**
 * Bundles a page (the chat, or a test page) for the browser with esbuild, against the BUILT
 * package (`npm run build` → dist/): `gmq` and `gmq/<name>` resolve through package.json
 * "exports" with the browser conditions, exactly what a user's bundler gets from the published
 * package.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const root = new URL("../../", import.meta.url);
const exportsMap = JSON.parse(readFileSync(new URL("package.json", root), "utf8")).exports as Record<
  string,
  unknown
>;

/** What a bundler building for the browser picks from an exports entry. */
function pick(target: unknown): string | undefined {
  if (typeof target === "string") return target;
  if (typeof target !== "object" || target === null) return undefined;
  for (const condition of ["browser", "import", "default"]) {
    const found = pick((target as Record<string, unknown>)[condition]);
    if (found) return found;
  }
  return undefined;
}

/** Resolves `gmq` and `gmq/<name>` through package.json "exports" with the browser conditions. */
export const gmqPackage: Plugin = {
  name: "gmq-package",
  setup(builder) {
    builder.onResolve({ filter: /^gmq(\/[\w-]+)?$/ }, ({ path }) => {
      const target = pick(exportsMap[path === "gmq" ? "." : `.${path.slice(3)}`]);
      if (!target) return { errors: [{ text: `${path} is not exported by package.json` }] };
      const file = fileURLToPath(new URL(target, root));
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
