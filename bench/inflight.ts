// Rows 4 and 5: many spawns in flight. Row 4 is throughput (µs per spawn at 8 and 1,000 in
// flight); row 5 is what the JS thread pays: time inside each spawn() call, and how late a 1 ms
// timer fires while a 300-spawn burst is launched (in one synchronous loop) and reaped.
import type { Launcher } from "./launchers.ts";
import { TINY, median, newMetric, quantile, record, runCLoop, type Metric } from "./measure.ts";
import type { RowContext } from "./rows.ts";
import { recordCSamples } from "./seq.ts";

/** `total` spawn-and-wait with at most `in_flight` alive; µs per spawn of wall time. */
async function throughput(launcher: Launcher, in_flight: number, total: number): Promise<number> {
  let started = 0;
  const worker = async () => {
    while (started < total) {
      started++;
      await launcher.waitIgnore([TINY]);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(in_flight, total) }, worker));
  return ((performance.now() - t0) * 1e3) / total;
}

export async function row4(ctx: RowContext): Promise<void> {
  const shapes = ctx.full
    ? [{ in_flight: 8, total: 2000, rounds: 5 }, { in_flight: 1000, total: 1000, rounds: 4 }]
    : [{ in_flight: 8, total: 400, rounds: 3 }, { in_flight: 1000, total: 1000, rounds: 2 }];
  const goals = [{ against: "bun", op: "<=", limit: 0.8 } as const];
  for (const shape of shapes) {
    const metric = newMetric(`4${shape.in_flight === 8 ? "a" : "b"}`, `${shape.in_flight.toLocaleString("en")} in flight, µs per spawn (≥1.25× = ≤0.8)`, "µs", goals);
    ctx.metrics.push(metric);
    for (let round = 0; round < shape.rounds; round++) {
      for (const impl of ctx.order(round)) {
        await ctx.step(impl, [metric], metric.label, async () => {
          record(metric, impl, await throughput(ctx.launchers[impl]!, shape.in_flight, shape.total));
        });
      }
      await ctx.step("c", [metric], metric.label, () => {
        record(metric, "c", runCLoop("inflight", { n: shape.total, k: shape.in_flight }).us_per_spawn);
      });
    }
  }
}

/** ms inside each spawn() call, `total` calls with at most `in_flight` children alive. */
async function callTimes(launcher: Launcher, in_flight: number, total: number): Promise<number[]> {
  const times: number[] = [];
  const worker = async () => {
    while (times.length < total) {
      const [ms, exited] = launcher.launch([TINY]);
      times.push(ms);
      await exited;
    }
  };
  await Promise.all(Array.from({ length: in_flight }, worker));
  return times;
}

/** Lateness (ms) of a 1 ms setInterval while `count` spawns are launched at once and reaped. */
async function burstLateness(launcher: Launcher, count: number): Promise<number[]> {
  const lateness: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lateness.push(Math.max(0, now - last - 1));
    last = now;
  }, 1);
  await Bun.sleep(20); // the timer settles before the burst
  lateness.length = 0;
  const exits: Promise<void>[] = [];
  for (let i = 0; i < count; i++) exits.push(launcher.launch([TINY])[1]);
  await Promise.all(exits);
  await Bun.sleep(5);
  clearInterval(timer);
  return lateness;
}

export async function row5(ctx: RowContext): Promise<void> {
  const calls = ctx.full ? 2000 : 400;
  const rounds = ctx.full ? 5 : 3;
  const callMedian = newMetric("5a", "JS-thread time in spawn(), median (8 in flight)", "µs", [{ against: "bun", op: "<=", limit: 0.2 }]);
  const callP99 = newMetric("5b", "JS-thread time in spawn(), p99", "µs", [{ against: "bun", op: "<=", limit: 0.1 }]);
  const worst = newMetric("5c", "event-loop worst delay, 300-spawn burst", "ms", [{ against: "bun", op: "<=", limit: 0.25 }]);
  const p99 = newMetric("5d", "event-loop p99 delay, 300-spawn burst", "ms");
  ctx.metrics.push(callMedian, callP99, worst, p99);
  callMedian.note = "C column: µs the C parent is suspended in vfork()";
  for (let round = 0; round < rounds; round++) {
    for (const impl of ctx.order(round)) {
      await ctx.step(impl, [callMedian, callP99], "spawn() call time", async () => {
        const us = (await callTimes(ctx.launchers[impl]!, 8, calls)).map((ms) => ms * 1e3);
        recordCallTimes(callMedian, callP99, impl, us);
      });
      await ctx.step(impl, [worst, p99], "300-spawn burst", async () => {
        const lateness = await burstLateness(ctx.launchers[impl]!, 300);
        record(worst, impl, Math.max(0, ...lateness), { ticks: lateness.length });
        record(p99, impl, quantile(lateness.length ? lateness : [0], 0.99));
      });
    }
    await ctx.step("c", [callMedian, callP99], "vfork pause", () => {
      recordCallTimes(callMedian, callP99, "c", runCLoop("pause", { n: calls, k: 8 }).samples_us);
    });
  }
}

function recordCallTimes(callMedian: Metric, callP99: Metric, impl: "forkless" | "bun" | "node" | "c", us: number[]): void {
  if (impl === "c") recordCSamples(callMedian, us);
  else record(callMedian, impl, median(us), { p50_us: median(us), p90_us: quantile(us, 0.9), p99_us: quantile(us, 0.99), max_us: Math.max(...us), samples: us.length });
  record(callP99, impl, quantile(us, 0.99));
}
