// forkless benchmark: forkless vs Bun.spawn (the baseline of every row), node:child_process and a
// C reference loop, printed as ONE table of ratios with the project's goals marked met / not met.
//
//   npm run bench [-- FLAGS]          builds the engine if needed, then runs this file
//   bun run bench/index.ts [FLAGS]
//     --impl=bun      Bun.spawn stands in for forkless (dry run while forkless is not ready)
//     --full          longer rounds and more samples (several minutes); default: under a minute
//     --json[=FILE]   also write machine-readable results to FILE (default bench/.build/results.json)
//     --rows=1,5,9    run only these rows
//
// Each row runs in a bun process of its own (bench/rows.ts), so that 4 GiB resident (row 6),
// 20,000 fds (row 7) or a crash stays in its row; a row whose process dies with forkless is re-run
// without forkless so the other columns still appear, and the failure is printed under the table.
// The C programs (bench/tiny.c, bench/loop.c) are compiled with gcc into bench/.build/ first.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ROWS } from "./catalog.ts";
import { BUILD_DIR } from "./measure.ts";
import type { Metric } from "./measure.ts";
import { render, toLine } from "./table.ts";

const { values: flags } = parseArgs({
  options: {
    impl: { type: "string", default: "forkless" },
    full: { type: "boolean", default: false },
    json: { type: "string" },
    rows: { type: "string" },
  },
  args: Bun.argv.slice(2).map((arg) => (arg === "--json" ? "--json=" : arg)),
});

interface RowOutcome {
  row: string;
  title: string;
  wall_s: number;
  metrics: Metric[];
  /** How the row's process ended when it did not end well. */
  failure?: string;
}

function compile(source: string, output: string, args: string[]): void {
  const src = join(import.meta.dir, source);
  const out = join(BUILD_DIR, output);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return;
  const result = Bun.spawnSync(["gcc", "-O2", "-Wall", "-Wextra", ...args, "-o", out, src], { stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`gcc ${source} failed:\n${result.stderr.toString()}`);
}

function buildCPrograms(): void {
  mkdirSync(BUILD_DIR, { recursive: true });
  // The child is static so its exec cost is the kernel's, not ld.so's (static glibc works here;
  // if it ever does not, gcc's error says so and the bench stops before measuring anything).
  compile("tiny.c", "tiny", ["-static"]);
  compile("loop.c", "loop", []);
  const check = Bun.spawnSync([join(BUILD_DIR, "tiny"), "say"], { stdout: "pipe", stderr: "pipe" });
  if (check.exitCode !== 0 || check.stdout.toString() !== "out\n") throw new Error("bench/.build/tiny does not run");
}

async function runRowProcess(id: string, out: string, extra: string[], timeout_ms: number) {
  rmSync(out, { force: true });
  const args = [`--row=${id}`, `--out=${out}`, `--impl=${flags.impl}`, ...(flags.full ? ["--full"] : []), ...extra];
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "rows.ts"), ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeout_ms);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  clearTimeout(timer);
  const state = existsSync(out) ? JSON.parse(readFileSync(out, "utf8")) : null;
  const tail = (stderr + stdout).trim().split("\n").slice(-6).join(" | ");
  let failure: string | undefined;
  if (!state?.done) {
    const how = proc.signalCode ? `killed by ${proc.signalCode}${proc.signalCode === "SIGKILL" ? ` (timeout ${timeout_ms / 1000} s?)` : ""}` : `exit code ${proc.exitCode}`;
    failure = `row process ${how} during "${state?.current || "startup"}"${tail ? `; output: ${tail}` : ""}`;
  }
  return { metrics: (state?.metrics ?? []) as Metric[], current: (state?.current ?? "") as string, failure };
}

/** What forkless measured before its row's process died stays; what it did not is marked failed. */
function keepForklessRounds(died: Metric[], retry: Metric[], failure: string): void {
  for (const m of retry) {
    const before = died.find((d) => d.id === m.id);
    if (before?.rounds.forkless?.length) {
      m.rounds.forkless = before.rounds.forkless;
      m.detail.forkless = before.detail.forkless;
      delete m.errors.forkless;
      if (before.errors.forkless) m.errors.forkless = before.errors.forkless;
    } else if (m.errors.forkless) {
      m.errors.forkless = `row process died with forkless: ${failure}`;
    }
  }
  const last = retry.find((m) => !m.rounds.forkless?.length && m.errors.forkless) ?? retry[0];
  if (last) last.note = [last.note, `the row process died with forkless (${failure}); its earlier forkless rounds are kept`].filter(Boolean).join("; ");
}

async function runRow(row: (typeof ROWS)[number]): Promise<RowOutcome> {
  const t0 = performance.now();
  const out = join(BUILD_DIR, `row-${row.id}.json`);
  const timeout_ms = flags.full ? 600_000 : 45_000;
  let result = await runRowProcess(row.id, out, [], timeout_ms);
  let failure = result.failure;
  if (failure && flags.impl !== "bun") {
    // Most likely forkless took the process down: measure the other columns without it.
    const retry = await runRowProcess(row.id, out, ["--skip-forkless"], timeout_ms);
    if (!retry.failure) {
      keepForklessRounds(result.metrics, retry.metrics, failure);
      result = retry;
      failure = undefined;
    }
  }
  const wall_s = (performance.now() - t0) / 1e3;
  process.stderr.write(`  row ${row.id} (${row.title}): ${wall_s.toFixed(1)} s${failure ? ` — FAILED: ${failure}` : ""}\n`);
  return { row: row.id, title: row.title, wall_s, metrics: result.metrics, failure };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const wanted = flags.rows?.split(",").map((s) => s.trim());
  const rows = ROWS.filter((r) => !wanted || wanted.includes(r.id));
  buildCPrograms();
  const meta = {
    date: new Date().toISOString(),
    bun: Bun.version,
    kernel: release(),
    cpus: cpus().length,
    impl: flags.impl === "bun" ? "Bun.spawn standing in for forkless" : "forkless (src/index.ts)",
    mode: flags.full ? "full" : "default",
    // Other work on a 2-core machine moves every number: the 1-minute load average says how much.
    load_average_at_start: Number(loadavg()[0]!.toFixed(2)),
  };
  const header = `forkless bench — ${meta.date}, Bun ${meta.bun}, Linux ${meta.kernel}, ${meta.cpus} CPUs, load ${meta.load_average_at_start}, ${meta.mode} mode, forkless column: ${meta.impl}`;
  process.stderr.write(`${header}\n`);
  const outcomes: RowOutcome[] = [];
  for (const row of rows) outcomes.push(await runRow(row));
  const lines = outcomes.flatMap((o) => o.metrics.map(toLine));
  const failures = outcomes.filter((o) => o.failure).map((o) => `row ${o.row}: ${o.failure}`);
  const wall_s = (performance.now() - t0) / 1e3;
  console.log(`\n${header}\n\n${render(lines, flags.impl === "bun")}`);
  if (failures.length) console.log(failures.join("\n"));
  console.log(`\nTotal bench wall time: ${wall_s.toFixed(1)} s (load average now ${loadavg()[0]!.toFixed(2)})`);
  if (flags.json !== undefined) {
    const file = resolve(flags.json || join(BUILD_DIR, "results.json"));
    writeFileSync(file, JSON.stringify({ meta: { ...meta, wall_s }, table: lines, rows: outcomes }, null, 2));
    console.log(`JSON results: ${file}`);
  }
}

await main();
