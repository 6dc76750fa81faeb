/**
 * The file outbox's small named values (`readState`/`writeState`: where subscription streams
 * were), in a JSON file beside the log, `<path>.state`. Each write replaces the whole file
 * atomically (a temporary file, fsync, rename, fsync of the directory): a crash leaves the old
 * values or the new ones, never a torn file. Writes are serialised and coalesced: values written
 * while one replacement runs go out together in the next.
 */
import { promises as fs } from "node:fs";
import { dirname } from "node:path";
import { errnoCode, storageError } from "./errors.js";
import { syncDirectory } from "./sync-dir.js";

export class StateFile {
  private values: Record<string, string> | undefined;
  private loading: Promise<Record<string, string>> | undefined;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(private readonly path: string) {}

  async read(key: string): Promise<string | undefined> {
    const values = await this.load();
    return Object.hasOwn(values, key) ? values[key] : undefined;
  }

  async write(key: string, value: string | undefined): Promise<void> {
    const values = await this.load();
    if (value === undefined) delete values[key];
    else values[key] = value;
    if (this.dirty) return this.writing; // the replacement queued next carries this value too
    this.dirty = true;
    this.writing = this.writing.then(() => this.replace());
    return this.writing;
  }

  /** Waits for every write. */
  async close(): Promise<void> {
    await this.writing;
  }

  private load(): Promise<Record<string, string>> {
    this.loading ??= fs.readFile(this.path, "utf8").then(
      (text) => {
        this.values = Object.create(null) as Record<string, string>;
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          // Only a foreign hand can damage it (replacements are atomic): start afresh; the
          // subscriptions resume from the backend's current position and say so.
          return this.values;
        }
        if (typeof parsed === "object" && parsed !== null) {
          for (const [key, value] of Object.entries(parsed))
            if (typeof value === "string") this.values[key] = value;
        }
        return this.values;
      },
      (error: unknown) => {
        if (errnoCode(error) !== "ENOENT")
          throw storageError(`cannot read ${this.path}: ${String(error)}`, undefined, error);
        this.values = Object.create(null) as Record<string, string>;
        return this.values;
      },
    );
    return this.loading;
  }

  private async replace(): Promise<void> {
    this.dirty = false;
    const temporary = `${this.path}.tmp`;
    try {
      const handle = await fs.open(temporary, "w");
      try {
        await handle.writeFile(JSON.stringify(this.values ?? {}));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(temporary, this.path);
      await syncDirectory(dirname(this.path));
    } catch (error) {
      throw storageError(`cannot write ${this.path}: ${String(error)}`, undefined, error);
    }
  }
}
