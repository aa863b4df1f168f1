// Rows 1–3 and 8: one spawn at a time, waited for — the latency `await proc.exited` sees.
// Every row runs forkless, Bun.spawn and node:child_process through mitata, interleaved by round,
// and the C loop in the same mode; hook rows (template, Container) replace only the forkless column.
import { containerHook, templateHook, type Hook } from "./hooks.ts";
import type { Launcher } from "./launchers.ts";
import { TINY, describeError, median, newMetric, quantile, record, runCLoop, scale, timeWithMitata, withDeadline, type Goal, type Metric } from "./measure.ts";
import type { RowContext } from "./rows.ts";

export const SEQ_GOALS: Goal[] = [
  { against: "bun", op: "<=", limit: 1.0 },
  { against: "c", op: "<=", limit: 1.1 },
];

type Op = (launcher: Launcher) => () => unknown;

/** Records the C loop's per-spawn samples (µs) as one round. */
export function recordCSamples(metric: Metric, samples: number[]): void {
  const detail = { p50_us: median(samples), p99_us: quantile(samples, 0.99), min_us: Math.min(...samples), max_us: Math.max(...samples), samples: samples.length };
  record(metric, "c", detail.p50_us, detail);
}

/**
 * Runs `op` for every implementation, `rounds` times, interleaved, plus the C loop with `cOptions`
 * (null: the caller measures the C column itself).
 * `forklessOverride` puts a hook's launcher (template, Container) in the forkless column.
 */
export async function sequentialRow(ctx: RowContext, metric: Metric, op: Op, cOptions: Record<string, string | number> | null, forklessOverride?: Launcher, rounds = scale(ctx.full).rounds): Promise<void> {
  const s = scale(ctx.full);
  if (!ctx.metrics.includes(metric)) ctx.metrics.push(metric);
  for (let round = 0; round < rounds; round++) {
    for (const impl of ctx.order(round)) {
      const launcher = impl === "forkless" && forklessOverride ? forklessOverride : ctx.launchers[impl];
      await ctx.step(impl, [metric], metric.label.trim(), async () => {
        const { median_us, summary } = await timeWithMitata(op(launcher!), s.seq);
        record(metric, impl, median_us, summary);
      });
    }
    if (cOptions) await ctx.step("c", [metric], metric.label.trim(), () => {
      recordCSamples(metric, runCLoop("seq", { n: s.c_seq_n, ...cOptions }).samples_us);
    });
  }
}

export const ignoredStdio: Op = (launcher) => () => launcher.waitIgnore([TINY]);

function expectBytes(got: number, want: number, what: string): void {
  if (got !== want) throw new Error(`${what}: got ${got} bytes, expected ${want}`);
}

export async function row1(ctx: RowContext): Promise<void> {
  await sequentialRow(ctx, newMetric("1", "spawn+wait, stdio ignored", "µs", SEQ_GOALS), ignoredStdio, { stdio: "ignore" });
  await hookRow(ctx, newMetric("1t", "  same via template() (issue 5)", "µs"), () => templateHook(ctx.forkless));
  await hookRow(ctx, newMetric("1c", "  same via Container (issue 4)", "µs"), () => containerHook(ctx.forkless));
}

/**
 * A row that exists only when forkless exports the feature ("not available" otherwise): the hook's
 * launcher takes the forkless column; Bun.spawn, node and C run the same scenario beside it.
 */
export async function hookRow(ctx: RowContext, metric: Metric, make: () => Hook | string, op: Op = ignoredStdio, cOptions: Record<string, string | number> = { stdio: "ignore" }): Promise<void> {
  ctx.metrics.push(metric);
  let hook: Hook | string;
  try {
    hook = ctx.standIn ? "not measured with --impl=bun" : !ctx.launchers.forkless ? "forkless is not loaded in this row's process" : make();
  } catch (error) {
    hook = `hook failed to start: ${describeError(error)}`;
  }
  if (typeof hook === "string") {
    metric.note = hook;
    return;
  }
  try {
    await sequentialRow(ctx, metric, op, cOptions, hook.launcher, scale(ctx.full).heavy_rounds);
    const note = hook.note?.();
    if (note) metric.note = [metric.note, note].filter(Boolean).join("; ");
  } finally {
    // A hung child keeps a Container's close() waiting: bounded, and said, not awaited forever.
    await withDeadline(Promise.resolve(hook.dispose()), 3_000, "releasing the hook (close())").catch((error) => {
      metric.errors.forkless = [metric.errors.forkless, describeError(error)].filter(Boolean).join("; then ");
    });
  }
}

export async function row2(ctx: RowContext): Promise<void> {
  const op: Op = (launcher) => async () => expectBytes(await launcher.waitPipe([TINY, "say"]), 4, "stdout");
  await sequentialRow(ctx, newMetric("2", "spawn+wait, stdout piped, read to end", "µs", SEQ_GOALS), op, { stdio: "pipe" });
}

export async function row3(ctx: RowContext): Promise<void> {
  const op: Op = (launcher) => () => expectBytes(launcher.sync([TINY, "say"]), 8, "stdout+stderr");
  await sequentialRow(ctx, newMetric("3", "spawnSync, stdout+stderr captured", "µs", SEQ_GOALS), op, { stdio: "sync" });
}

/** 2,000 variables of 100-byte values, named as bench/loop.c names them. */
export function bigEnv(count: number, value_bytes: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (let i = 0; i < count; i++) env[`FL_BENCH_${String(i).padStart(4, "0")}`] = "x".repeat(value_bytes);
  return env;
}

export async function row8(ctx: RowContext): Promise<void> {
  const env = bigEnv(2000, 100);
  const op: Op = (launcher) => () => launcher.waitIgnore([TINY], env);
  const metric = newMetric("8", "env of 2,000 × 100 B vars, spawn+wait", "µs", [{ against: "bun", op: "<=", limit: 0.8 }]);
  const cOptions = { stdio: "ignore", env_count: 2000, env_bytes: 100 };
  await sequentialRow(ctx, metric, op, cOptions);
  // A template encodes the 2,000 variables once: this is the row it exists for.
  await hookRow(ctx, newMetric("8t", "  same via template() (issue 5)", "µs"), () => templateHook(ctx.forkless), op, cOptions);
}
