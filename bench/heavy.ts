// Rows 6 and 7: row 1 again in a heavy parent — 4 GiB resident (where fork's page-table copy makes
// a cliff that vfork and clone avoid) and ~20,000 open fds (which every child must not inherit).
// Each runs in its own bun process (index.ts), so the memory and the fds never reach other rows.
import { readdirSync } from "node:fs";
import { freemem } from "node:os";
import { join } from "node:path";
import { closeAll, openDevNull, openFileLimit, residentMemory } from "./libc.ts";
import { containerHook } from "./hooks.ts";
import { JS_IMPLS } from "./launchers.ts";
import { TINY, median, newMetric, record, scale, runCLoop, type Metric } from "./measure.ts";
import type { RowContext } from "./rows.ts";
import { hookRow, ignoredStdio, sequentialRow, recordCSamples } from "./seq.ts";

const RESIDENT_GIB = 4;
const GIB = 2 ** 30;

export async function row6(ctx: RowContext): Promise<void> {
  const before = newMetric("6", "row 1 in the row-6 process, before 4 GiB", "µs");
  const loaded = newMetric("6a", "4 GiB resident: spawn+wait", "µs");
  const slowdown = newMetric("6b", "4 GiB resident ÷ before (×; C: vfork)", "×", [{ against: "self", op: "<=", limit: 1.05 }]);
  const cliff = newMetric("6c", "fork+exec, 4 GiB resident (C fork; node = own binary)", "µs");
  ctx.metrics.push(before, loaded, slowdown, cliff);
  const need_bytes = (RESIDENT_GIB + 1.5) * GIB;
  if (freemem() < need_bytes) {
    before.note = `skipped: ${(freemem() / GIB).toFixed(1)} GiB free, row 6 needs ${need_bytes / GIB} GiB`;
    return;
  }
  // Few spawns, but enough rounds that the 1.05× goal is not decided by noise.
  const rounds = scale(ctx.full).rounds;
  const c_n = ctx.full ? 200 : 40;
  await sequentialRow(ctx, before, ignoredStdio, { stdio: "ignore", n: c_n }, undefined, rounds);
  const t0 = performance.now();
  const memory = residentMemory(RESIDENT_GIB * GIB);
  loaded.note = `4 GiB mmap(MAP_POPULATE) via bun:ffi took ${Math.round(performance.now() - t0)} ms`;
  try {
    // The C column of `loaded` comes from the cliff run below, after this process let go.
    await sequentialRow(ctx, loaded, ignoredStdio, null, undefined, rounds);
  } finally {
    memory.release();
  }
  await ctx.step("c", [loaded, slowdown, cliff], "C cliff", () => {
    const result = runCLoop("cliff", { n: c_n, fork_n: ctx.full ? 10 : 3, touch_gib: RESIDENT_GIB });
    recordCSamples(loaded, result.vfork_mem);
    record(slowdown, "c", median(result.vfork_mem) / median(result.vfork_0)); // one C process, before and after
    recordCSamples(cliff, result.fork_mem);
    cliff.note = `C fork+exec before the 4 GiB: ${median(result.fork_0).toFixed(0)} µs; vfork: ${median(result.vfork_0).toFixed(0)} µs`;
  });
  await ctx.step("node", [cliff], "real node fork", () => realNodeFork(ctx, cliff));
  for (const impl of JS_IMPLS) {
    const a = before.rounds[impl] ?? [];
    const b = loaded.rounds[impl] ?? [];
    for (let r = 0; r < Math.min(a.length, b.length); r++) record(slowdown, impl, b[r]! / a[r]!);
    const failure = before.errors[impl] ?? loaded.errors[impl];
    if (failure) slowdown.errors[impl] = failure;
  }
  cliff.rounds.forkless = loaded.rounds.forkless; // so that fl/C reads "forkless vs the fork cliff"
  if (loaded.errors.forkless) cliff.errors.forkless = loaded.errors.forkless;
}

/** node:child_process in Bun is Bun.spawn; Node's own binary is what forks. Measure that one. */
function realNodeFork(ctx: RowContext, cliff: Metric): void {
  const node = Bun.which("node");
  const addNote = (text: string) => (cliff.note = [cliff.note, text].filter(Boolean).join("; "));
  if (!node) {
    addNote("node column: no `node` on PATH");
    return;
  }
  const gib = ctx.full ? RESIDENT_GIB : 1;
  const result = Bun.spawnSync([node, join(import.meta.dir, "node-fork.mjs"), TINY, String(gib), ctx.full ? "10" : "3"], { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`node-fork.mjs: exit ${result.exitCode}: ${result.stderr.toString().trim()}`);
  const json = JSON.parse(result.stdout.toString());
  record(cliff, "node", median(json.mem_us), json);
  addNote(`node ${json.node} (own binary): ${median(json.base_us).toFixed(0)} µs before, ${median(json.mem_us).toFixed(0)} µs with ${gib} GiB Buffers${gib < RESIDENT_GIB ? " (4 GiB with --full)" : ""}`);
}

export async function row7(ctx: RowContext): Promise<void> {
  const open_now = readdirSync("/proc/self/fd").length;
  // Bun raises the soft limit to the hard one; leave room for the spawns' own pipes and pidfds.
  const count = Math.min(20_000, openFileLimit() - open_now - 64);
  const label = `${count.toLocaleString("en")} fds held (no O_CLOEXEC): spawn+wait`;
  const metric = newMetric("7", label, "µs", [{ against: "bun", op: "<=", limit: 1.0 }]);
  if (count < 20_000) metric.note = `RLIMIT_NOFILE is ${openFileLimit()}: ${count} fds opened, not 20,000`;
  const fds = openDevNull(count);
  try {
    const rounds = scale(ctx.full).heavy_rounds;
    await sequentialRow(ctx, metric, ignoredStdio, { stdio: "ignore", fds: count, n: ctx.full ? 150 : 40 }, undefined, rounds);
    // The Container's helper holds almost no fds: the kernel has nothing to close at exec.
    const cOptions = { stdio: "ignore", fds: count, n: ctx.full ? 150 : 40 };
    await hookRow(ctx, newMetric("7c", "  same via Container (issue 4)", "µs"), () => containerHook(ctx.forkless), ignoredStdio, cOptions);
  } finally {
    closeAll(fds);
  }
}
