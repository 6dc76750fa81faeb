// Keeps a copy of the built package to compare against later with bench/ab.mjs.
//
//   npm run build && node bench/snapshot.mjs .tmp/ab/before
//
// Copies dist/*.js into the directory, with the adapters' `gmq` imports pointed at the copy's own
// core, so two copies can be loaded side by side in one process.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const target = process.argv[2];
if (!target) {
  console.error("usage: node bench/snapshot.mjs <directory>");
  process.exit(2);
}
const dist = fileURLToPath(new URL("../dist", import.meta.url));
const dir = resolve(target);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
for (const name of readdirSync(dist).filter((file) => file.endsWith(".js"))) {
  const code = readFileSync(join(dist, name), "utf8").replaceAll(/from\s*(["'])gmq\1/g, 'from "./index.js"');
  writeFileSync(join(dir, name), code);
}
writeFileSync(join(dir, "package.json"), '{"type":"module"}\n');
console.log(`snapshot of dist in ${dir}`);
