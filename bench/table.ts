/** One printed line: a metric of a scenario case on both targets. */
export interface Row {
  scenario: string;
  case: string;
  metric: string;
  unit: string;
  ours?: number;
  baseline?: number;
  /** ours / baseline */
  ratio?: number;
}

function fmt(v: number | undefined): string {
  if (v === undefined) return "-";
  if (Number.isNaN(v)) return "n/a";
  if (Number.isInteger(v) || Math.abs(v) >= 100) return Math.round(v).toLocaleString("en-US");
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** Prints rows as an aligned text table (also valid Markdown). */
export function printTable(rows: readonly Row[]): void {
  const head = ["scenario", "case", "metric", "unit", "ours", "baseline", "ours/base"];
  const body = rows.map((r) => [r.scenario, r.case, r.metric, r.unit, fmt(r.ours), fmt(r.baseline),
    r.ratio === undefined ? "-" : `${fmt(r.ratio)}x`]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i >= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" | ")} |`;
  console.log(line(head));
  console.log(`|${widths.map((w, i) => (i >= 4 ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`);
  for (const b of body) console.log(line(b));
}
