/**
 * Headless Chromium from the system (Debian `chromium`), driven by playwright-core; never a
 * downloaded browser. Missing Chromium skips browser suites with a reason, or fails them under
 * GMQ_REQUIRE_SYSTEM=1.
 */
import { execFileSync } from "node:child_process";
import { type Browser, chromium } from "playwright-core";
import { CHROMIUM_ARGS } from "../../scripts/chromium-args.mjs";
import { requireBinary, type SystemBinary } from "./system.js";

function chromiumPath(): string {
  try {
    return execFileSync("sh", ["-c", "command -v chromium || command -v chromium-browser"], {
      encoding: "utf8",
    }).trim();
  } catch {
    return "/usr/bin/chromium";
  }
}

export const chromiumBinary: SystemBinary = requireBinary("chromium", chromiumPath() || "/usr/bin/chromium");

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumBinary.path,
    headless: true,
    args: [...CHROMIUM_ARGS],
  });
}
