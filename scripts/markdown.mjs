// Markdown tables from rows of objects (scripts/size.mjs, scripts/bench-report.mjs).

const NUMERIC = /^([−+-]?[\d.,]+\s?(%|x|ms|B|KB)?|—|)$/;

/** Columns whose every cell is a number (with a unit) are right-aligned, the rest left. */
export function markdownTable(rows) {
  if (rows.length === 0) return "_(no rows)_";
  const keys = Object.keys(rows[0]);
  const cell = (row, key) => String(row[key] ?? "").replaceAll("|", "\\|");
  const numeric = keys.map((key) => rows.every((row) => NUMERIC.test(cell(row, key))));
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [
    line(keys),
    line(numeric.map((right) => (right ? "---:" : "---"))),
    ...rows.map((row) => line(keys.map((key) => cell(row, key)))),
  ].join("\n");
}
