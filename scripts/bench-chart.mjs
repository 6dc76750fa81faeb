// A horizontal bar chart as plain SVG text, for docs/benchmarks-throughput.svg. Each group is
// scaled to its own largest value (groups measure different things), and every bar is labelled.

const WIDTH = 820;
const LABEL = 250; // label column
const BARS = 440; // longest bar
const ROW = 22;
const HEAD = 30;
const COLORS = { baseline: "#9aa0a6", gmq: "#1a73e8" };

const xml = (text) =>
  String(text)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");

/**
 * groups: [{ title, unit, bars: [{ label, value, kind: "baseline" | "gmq" }] }]
 * Returns the SVG document as a string.
 */
export function barChart(title, groups) {
  const parts = [];
  let y = 56;
  for (const group of groups) {
    parts.push(
      `<text x="12" y="${y + 16}" font-weight="bold">${xml(group.title)}</text>`,
      `<text x="${WIDTH - 12}" y="${y + 16}" text-anchor="end" fill="#5f6368">${xml(group.unit)}</text>`,
    );
    y += HEAD;
    const max = Math.max(...group.bars.map((bar) => bar.value), 1);
    for (const bar of group.bars) {
      const width = Math.max(1, Math.round((bar.value / max) * BARS));
      parts.push(
        `<text x="${LABEL - 8}" y="${y + 15}" text-anchor="end">${xml(bar.label)}</text>`,
        `<rect x="${LABEL}" y="${y + 3}" width="${width}" height="${ROW - 6}" fill="${COLORS[bar.kind]}"/>`,
        `<text x="${LABEL + width + 6}" y="${y + 15}">${xml(bar.value.toLocaleString("en-US"))}</text>`,
      );
      y += ROW;
    }
    y += 10;
  }
  const height = y + 10;
  const legend = Object.entries({ baseline: "baseline (same run)", gmq: "gmq" })
    .map(
      ([kind, text], i) =>
        `<rect x="${LABEL + i * 190}" y="34" width="12" height="12" fill="${COLORS[kind]}"/><text x="${LABEL + i * 190 + 18}" y="45">${text}</text>`,
    )
    .join("");
  const note = `<text x="${WIDTH - 12}" y="45" text-anchor="end" fill="#5f6368">bars scaled within each group</text>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="13">`,
    `<title>${xml(title)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${xml(title)}</text>`,
    legend,
    note,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}
