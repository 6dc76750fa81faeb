// Fails when package.json "exports" and the tsup entries disagree, a condition object does not
// put "types" first, or a listed file is missing.
import { existsSync, readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const config = readFileSync(new URL("../tsup.config.ts", import.meta.url), "utf8");
const block = config.match(/entries[^=]*=\s*\{([\s\S]*?)\};/);
if (!block) throw new Error("check-exports: no `entries` object in tsup.config.ts");
const entries = [...block[1].matchAll(/["']?([\w-]+)["']?\s*:\s*["']([^"']+)["']/g)].map((m) => m[1]);

const problems = [];
const targets = new Set();
/** Walks a condition tree, collecting its files. */
const walk = (key, node) => {
  if (typeof node === "string") return void targets.add(node);
  const conditions = Object.keys(node);
  if ("types" in node && conditions[0] !== "types")
    problems.push(`exports "${key}": "types" must come first`);
  for (const condition of conditions) walk(key, node[condition]);
};
for (const [key, target] of Object.entries(pkg.exports)) if (key !== "./package.json") walk(key, target);

for (const name of entries) {
  for (const file of [
    `./dist/${name}.js`,
    `./dist/${name}.cjs`,
    `./dist/${name}.d.ts`,
    `./dist/${name}.d.cts`,
  ]) {
    if (!targets.has(file)) problems.push(`tsup entry "${name}": ${file} is not in package.json exports`);
  }
}
for (const file of targets) {
  const name = file.match(/^\.\/dist\/([\w-]+)\.(?:js|cjs|d\.ts|d\.cts)$/)?.[1];
  if (!name || !entries.includes(name)) problems.push(`exports lists ${file}, which no tsup entry builds`);
  else if (!process.argv.includes("--no-files") && !existsSync(new URL(`../${file}`, import.meta.url)))
    problems.push(`${file} was not built`);
}
if (problems.length > 0) {
  console.error(`check-exports: ${problems.length} problem(s)\n- ${problems.join("\n- ")}`);
  process.exit(1);
}
console.log(`check-exports: ${entries.length} entries agree with package.json exports`);
