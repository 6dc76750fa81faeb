// Flags for Debian's headless Chromium on these machines (no sandbox as root, no GPU, and no
// background traffic, which the closed network refuses). Shared by the browser tests and benches.
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
