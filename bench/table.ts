// From the rows' metrics to the one table: medians per implementation, forkless's ratios to
// Bun.spawn and to the C loop (point = ratio of medians over rounds; min–max = the per-round
// ratios, rounds being interleaved neighbours), and each goal with its met / not-met mark.
import type { Impl } from "./launchers.ts";
import { median, type Goal, type Metric } from "./measure.ts";

export interface Ratio {
  point: number;
  min: number;
  max: number;
}

export interface Line {
  id: string;
  label: string;
  unit: Metric["unit"];
  values: Partial<Record<Impl, number>>;
  fl_vs_bun: Ratio | null;
  fl_vs_c: Ratio | null;
  goals: { goal: Goal; ratio: number | null; met: boolean | null }[];
  met: boolean | null;
  errors: Partial<Record<Impl, string>>;
  note?: string;
}

function ratio(metric: Metric, against: Impl): Ratio | null {
  const mine = metric.rounds.forkless ?? [];
  const theirs = metric.rounds[against] ?? [];
  if (!mine.length || !theirs.length || metric.errors.forkless || metric.errors[against]) return null;
  // Rounds are interleaved, so round i of each is a fair pair; with unequal counts (a C run made
  // once for several JS rounds), every round of forkless is compared with the other's median.
  const per_round = mine.length === theirs.length ? mine.map((v, i) => v / theirs[i]!) : mine.map((v) => v / median(theirs));
  return { point: median(mine) / median(theirs), min: Math.min(...per_round), max: Math.max(...per_round) };
}

export function toLine(metric: Metric): Line {
  const values: Line["values"] = {};
  for (const [impl, rounds] of Object.entries(metric.rounds) as [Impl, number[]][]) {
    if (rounds.length && !metric.errors[impl]) values[impl] = median(rounds);
  }
  const fl_vs_bun = ratio(metric, "bun");
  const fl_vs_c = ratio(metric, "c");
  const goals = metric.goals.map((goal) => {
    const r = goal.against === "bun" ? fl_vs_bun?.point : goal.against === "c" ? fl_vs_c?.point : values.forkless;
    const met = r === undefined ? null : goal.op === "<=" ? r <= goal.limit : r >= goal.limit;
    return { goal, ratio: r ?? null, met };
  });
  const met = goals.length === 0 || goals.some((g) => g.met === null) ? null : goals.every((g) => g.met);
  return { id: metric.id, label: metric.label, unit: metric.unit, values, fl_vs_bun, fl_vs_c, goals, met, errors: metric.errors, note: metric.note };
}

function number(value: number | undefined, unit: Metric["unit"]): string {
  if (value === undefined) return "–";
  if (unit === "×") return `${value.toFixed(2)}×`;
  if (value >= 1000 || unit === "MB/s") return Math.round(value).toLocaleString("en");
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

const fixed = (x: number) => (x >= 0.1 ? x.toFixed(2) : x.toPrecision(2));
const ratioText = (r: Ratio | null) => (r ? `${fixed(r.point)} (${fixed(r.min)}–${fixed(r.max)})` : "–");

function goalText(goal: Goal): string {
  const who = goal.against === "bun" ? "×Bun" : goal.against === "c" ? "×C" : "× (fl)";
  return `${goal.op === "<=" ? "≤" : "≥"}${goal.limit.toFixed(2)}${who}`;
}

/** The printed table, with footnotes for errors and notes. `standIn`: Bun.spawn played forkless. */
export function render(lines: Line[], standIn: boolean): string {
  const header = ["row", "measure", "unit", standIn ? "forkless*" : "forkless", "Bun.spawn", "node:cp", "C loop", "fl/Bun (min–max)", "fl/C (min–max)", "goal", "met"];
  const notes: string[] = [];
  const failures = new Map<string, number>(); // one footnote per distinct failure
  const cell = (line: Line, impl: Impl) => {
    const error = line.errors[impl];
    if (!error) return number(line.values[impl], line.unit);
    const text = `${impl}: ${error}`;
    if (!failures.has(text)) failures.set(text, failures.size + 1);
    return `FAIL[${failures.get(text)}]`;
  };
  const rows = lines.map((line) => {
    if (line.note) notes.push(`row ${line.id}: ${line.note}`);
    const mark = line.met === null ? "–" : line.met ? "✓ met" : "✗ NOT met";
    return [line.id, line.label, line.unit, cell(line, "forkless"), cell(line, "bun"), cell(line, "node"), cell(line, "c"), ratioText(line.fl_vs_bun), ratioText(line.fl_vs_c), line.goals.map((g) => goalText(g.goal)).join(" "), mark];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const format = (r: string[]) => r.map((c, i) => (i >= 3 && i <= 6 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  const out = [format(header), widths.map((w) => "─".repeat(w)).join("  "), ...rows.map(format)];
  if (standIn) out.push("", "* --impl=bun: Bun.spawn stands in for forkless (dry run); ratios near 1.00 show only the noise.");
  out.push("", "Lower is better except MB/s. C loop = bench/loop.c (vfork+close_range+execve+waitpid). node:cp = node:child_process as Bun implements it.");
  out.push(...notes, ...[...failures].map(([text, n]) => `FAIL[${n}] ${text}`));
  return out.join("\n");
}
