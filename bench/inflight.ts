// Rows 4 and 5: many spawns in flight. Row 4 is throughput (µs per spawn at 8 and 1,000 in
// flight); row 5 is what the JS thread pays: time inside each spawn() call, and how late a 1 ms
// timer fires while a 300-spawn burst is launched (in one synchronous loop) and reaped. Row 5 also
// reports the JS thread's CPU time, since on 2 cores the children it starts can preempt it.
import type { Impl, Launcher } from "./launchers.ts";
import { threadCpuMs, threadSwitches } from "./libc.ts";
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

/** Wall and JS-thread CPU µs inside each spawn() call, `total` calls, at most `in_flight` alive. */
async function callTimes(launcher: Launcher, in_flight: number, total: number) {
  const wall_us: number[] = [];
  const cpu_us: number[] = [];
  const worker = async () => {
    while (wall_us.length < total) {
      const [ms, cpu_ms, exited] = launcher.launch([TINY]);
      wall_us.push(ms * 1e3);
      cpu_us.push(cpu_ms * 1e3);
      await exited;
    }
  };
  await Promise.all(Array.from({ length: in_flight }, worker));
  return { wall_us, cpu_us };
}

/**
 * Lateness (ms) of a 1 ms setInterval while `count` spawns are launched in one synchronous loop
 * and reaped; plus how long the loop held the JS thread and how often it was switched out.
 */
async function burst(launcher: Launcher, count: number) {
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
  const switches0 = threadSwitches();
  const cpu0 = threadCpuMs();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) exits.push(launcher.launch([TINY])[2]);
  const loop_ms = performance.now() - t0;
  const loop_cpu_ms = threadCpuMs() - cpu0;
  const switches1 = threadSwitches();
  await Promise.all(exits);
  await Bun.sleep(5);
  clearInterval(timer);
  const switches = { voluntary: switches1.voluntary - switches0.voluntary, involuntary: switches1.involuntary - switches0.involuntary };
  return { lateness, detail: { loop_ms, loop_cpu_ms, switches_in_loop: switches, ticks: lateness.length } };
}

export async function row5(ctx: RowContext): Promise<void> {
  const calls = ctx.full ? 2000 : 400;
  const rounds = ctx.full ? 5 : 3;
  const callMedian = newMetric("5a", "JS-thread time in spawn(), median (8 in flight)", "µs", [{ against: "bun", op: "<=", limit: 0.2 }]);
  const callP99 = newMetric("5b", "JS-thread time in spawn(), p99", "µs", [{ against: "bun", op: "<=", limit: 0.1 }]);
  const cpuMedian = newMetric("5c", "  JS-thread CPU in spawn(), median (not a goal)", "µs");
  const worst = newMetric("5d", "event-loop worst delay, 300-spawn burst", "ms", [{ against: "bun", op: "<=", limit: 0.25 }]);
  const p99 = newMetric("5e", "event-loop p99 delay, 300-spawn burst", "ms");
  const loopCpu = newMetric("5f", "  JS-thread CPU in the 300 calls (not a goal)", "ms");
  ctx.metrics.push(callMedian, callP99, cpuMedian, worst, p99, loopCpu);
  callMedian.note = "C column: µs the C parent is suspended in vfork()";
  cpuMedian.note = "5c/5f: CPU time of the JS thread (CLOCK_THREAD_CPUTIME_ID); wall minus CPU = preempted or blocked";
  for (let round = 0; round < rounds; round++) {
    for (const impl of ctx.order(round)) {
      await ctx.step(impl, [callMedian, callP99, cpuMedian], "spawn() call time", async () => {
        const { wall_us, cpu_us } = await callTimes(ctx.launchers[impl]!, 8, calls);
        recordCallTimes(callMedian, callP99, impl, wall_us);
        record(cpuMedian, impl, median(cpu_us));
      });
      await ctx.step(impl, [worst, p99, loopCpu], "300-spawn burst", async () => {
        const { lateness, detail } = await burst(ctx.launchers[impl]!, 300);
        record(worst, impl, Math.max(0, ...lateness), detail);
        record(p99, impl, quantile(lateness.length ? lateness : [0], 0.99));
        record(loopCpu, impl, detail.loop_cpu_ms);
      });
    }
    await ctx.step("c", [callMedian, callP99], "vfork pause", () => {
      recordCallTimes(callMedian, callP99, "c", runCLoop("pause", { n: calls, k: 8 }).samples_us);
    });
  }
  worst.note = burstNote(worst);
}

/** "forkless: loop 62 ms (17 ms CPU), 3/30 switches (vol/invol)" per implementation, medians. */
function burstNote(worst: Metric): string {
  type Detail = { loop_ms: number; loop_cpu_ms: number; switches_in_loop: { voluntary: number; involuntary: number } };
  const parts = Object.entries(worst.detail).map(([impl, details]) => {
    const d = details as Detail[];
    const m = (f: (x: Detail) => number) => median(d.map(f));
    return `${impl} ${m((x) => x.loop_ms).toFixed(0)} ms (${m((x) => x.loop_cpu_ms).toFixed(0)} ms CPU), ${m((x) => x.switches_in_loop.voluntary)}/${m((x) => x.switches_in_loop.involuntary)}`;
  });
  return `the 300-call loop itself, wall (CPU), JS-thread switches voluntary/involuntary: ${parts.join("; ")}`;
}

function recordCallTimes(callMedian: Metric, callP99: Metric, impl: Impl, us: number[]): void {
  if (impl === "c") recordCSamples(callMedian, us);
  else record(callMedian, impl, median(us), { p50_us: median(us), p90_us: quantile(us, 0.9), p99_us: quantile(us, 0.99), max_us: Math.max(...us), samples: us.length });
  record(callP99, impl, quantile(us, 0.99));
}
