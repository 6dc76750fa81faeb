import { promises as fs } from "node:fs";
import { errnoCode } from "./errors.js";

/** fsync a directory, so a file created or renamed in it survives a power cut, not only its data.
 *  Windows cannot open a directory for syncing (and needs no such step): tolerated there. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, "r");
    await handle.sync();
  } catch (error) {
    const code = errnoCode(error);
    if (process.platform === "win32" || code === "EISDIR" || code === "EINVAL") return;
    throw error;
  } finally {
    await handle?.close();
  }
}
