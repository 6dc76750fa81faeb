// The server side of bench/gnode.mjs, in a process of its own (as a real node would be):
// startGnode() from the testing entry in the directory given as the first argument (dist/ by
// default). Prints its addresses as one JSON line; when its stdin closes, prints the incidents it
// logged (spec §7.2: what would have crashed or hung a real node) as one JSON line and exits.
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const dir = process.argv[2] ?? fileURLToPath(new URL("../dist/", import.meta.url));
const { startGnode } = await import(pathToFileURL(join(dir, "testing.js")).href);
const node = await startGnode();
console.log(JSON.stringify({ httpUrl: node.httpUrl, tcpPort: node.tcpPort }));
process.stdin.resume();
process.stdin.on("end", async () => {
  console.log(JSON.stringify({ incidents: node.incidents }));
  await node.close();
  process.exit(0);
});
