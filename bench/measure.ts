// How a row turns runs into numbers: rounds interleave the implementations (a noisy 2-core machine
// drifts; interleaving makes every ratio compare neighbours), mitata's `measure` times the
// sequential rows, and the C reference loop reports its own microseconds.
// What it leaves out: printing (table.ts) and deciding what a row measures (rows.ts).
import { measure } from "mitata";
import { join } from "node:path";
import type { Impl } from "./launchers.ts";

export const BUILD_DIR = join(import.meta.dir, ".build");
export const TINY = join(BUILD_DIR, "tiny");
const FORKLESS_SRC = join(import.meta.dir, "..", "src") + "/";
const LOOP = join(BUILD_DIR, "loop");

/** One measured quantity of a row, for every implementation; `rounds[impl][r]` is round r's value. */
export interface Metric {
  id: string;
  label: string;
  unit: "µs" | "ms" | "MB/s" | "×";
  better: "lower" | "higher";
  rounds: Partial<Record<Impl, number[]>>;
  errors: Partial<Record<Impl, string>>;
  goals: Goal[];
  /** Distribution detail per implementation (mitata stats or percentiles), for --json only. */
  detail: Partial<Record<Impl, unknown[]>>;
  note?: string;
}

/** `ratio` is forkless / `against` (or forkless alone for "self"), compared with `limit`. */
export interface Goal {
  against: "bun" | "c" | "self";
  op: "<=" | ">=";
  limit: number;
}

export function newMetric(id: string, label: string, unit: Metric["unit"], goals: Goal[] = [], better: Metric["better"] = "lower"): Metric {
  return { id, label, unit, better, rounds: {}, errors: {}, goals, detail: {} };
}

export function record(metric: Metric, impl: Impl, value: number, detail?: unknown): void {
  (metric.rounds[impl] ??= []).push(value);
  if (detail !== undefined) (metric.detail[impl] ??= []).push(detail);
}

export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))]!;
}

export const median = (values: number[]) => quantile(values, 0.5);

/** Budget of one round of one implementation in a sequential row. */
export interface Budget {
  min_cpu_time_ms: number;
  max_samples: number;
}

/**
 * Times `fn` with mitata: no batching (every sample is one spawn), a trimmed, sorted sample set.
 * Returns the median in µs and mitata's stats for --json.
 */
export async function timeWithMitata(fn: () => Promise<unknown> | unknown, budget: Budget) {
  const stats = await measure(fn, {
    min_cpu_time: budget.min_cpu_time_ms * 1e6,
    max_samples: budget.max_samples,
    min_samples: 8,
    warmup_samples: 2,
    batch_threshold: 0,
  });
  const us = (ns: number) => ns / 1e3;
  const summary = { p50_us: us(stats.p50), p99_us: us(stats.p99), min_us: us(stats.min), max_us: us(stats.max), avg_us: us(stats.avg), samples: stats.samples.length };
  return { median_us: summary.p50_us, summary };
}

/** Runs the C reference loop (bench/loop.c) and returns its JSON. */
export function runCLoop(mode: string, options: Record<string, number | string>): Record<string, any> {
  const args = Object.entries(options).map(([key, value]) => `${key}=${value}`);
  const result = Bun.spawnSync([LOOP, TINY, mode, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) {
    throw new Error(`C loop ${mode} ${args.join(" ")}: exit ${result.exitCode}: ${result.stderr.toString().trim()}`);
  }
  return JSON.parse(result.stdout.toString());
}

/** Rejects when `promise` has not settled in `ms`: a hung implementation must not hang the row. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms / 1000} s (hung?)`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const where = error.stack?.split("\n").find((line) => line.includes(FORKLESS_SRC)) ?? "";
    const code = (error as { code?: string }).code;
    return `${error.name}${code ? ` ${code}` : ""}: ${error.message}${where ? ` (${where.trim()})` : ""}`;
  }
  return String(error);
}

/** How long each kind of row runs: the default fits the whole suite in under a minute on 2 cores. */
export function scale(full: boolean) {
  return full
    ? { rounds: 5, seq: { min_cpu_time_ms: 500, max_samples: 2000 }, c_seq_n: 600, heavy_rounds: 3 }
    : { rounds: 4, seq: { min_cpu_time_ms: 110, max_samples: 300 }, c_seq_n: 150, heavy_rounds: 2 };
}
