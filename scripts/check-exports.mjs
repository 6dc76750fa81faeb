// Fails when package.json "exports" and the tsup entries disagree, or a listed file is missing.
import { existsSync, readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const config = readFileSync(new URL("../tsup.config.ts", import.meta.url), "utf8");
const block = config.match(/entries[^=]*=\s*\{([\s\S]*?)\};/);
if (!block) throw new Error("check-exports: no `entries` object in tsup.config.ts");
const entries = [...block[1].matchAll(/["']?([\w-]+)["']?\s*:\s*["']([^"']+)["']/g)].map((m) => m[1]);

const problems = [];
const exported = Object.keys(pkg.exports).filter((key) => key !== "./package.json");
const expected = entries.map((name) => (name === "index" ? "." : `./${name}`));
for (const key of expected)
  if (!exported.includes(key)) problems.push(`tsup entry for "${key}" is not in package.json exports`);
for (const key of exported)
  if (!expected.includes(key)) problems.push(`package.json exports "${key}" has no tsup entry`);
for (const [key, target] of Object.entries(pkg.exports)) {
  if (key === "./package.json") continue;
  const conditions = Object.keys(target);
  if (conditions[0] !== "types") problems.push(`exports "${key}": "types" must come first`);
  const built = process.argv.includes("--no-files") ? [] : Object.values(target);
  for (const file of built)
    if (!existsSync(new URL(`../${file}`, import.meta.url)))
      problems.push(`exports "${key}": ${file} was not built`);
}
if (problems.length > 0) {
  console.error(`check-exports: ${problems.length} problem(s)\n- ${problems.join("\n- ")}`);
  process.exit(1);
}
console.log(`check-exports: ${expected.length} entries agree with package.json exports`);
