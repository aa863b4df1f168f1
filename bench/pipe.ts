// Row 9: bulk bytes through a stdout pipe — 64 MiB from `tiny spew` (64 KiB writes), read to the
// end chunk by chunk (never accumulated), MB/s from spawn to exit. Higher is better.
import { TINY, median, newMetric, record, runCLoop, scale } from "./measure.ts";
import type { RowContext } from "./rows.ts";

const BYTES = 64 * 2 ** 20;

export async function row9(ctx: RowContext): Promise<void> {
  const metric = newMetric("9", "64 MiB through a stdout pipe", "MB/s", [{ against: "bun", op: ">=", limit: 1.0 }], "higher");
  ctx.metrics.push(metric);
  const runs_per_round = ctx.full ? 8 : 4;
  const argv = [TINY, "spew", String(BYTES)];
  for (let round = 0; round < scale(ctx.full).rounds; round++) {
    for (const impl of ctx.order(round)) {
      await ctx.step(impl, [metric], metric.label, async () => {
        const mb_per_s: number[] = [];
        for (let run = 0; run < runs_per_round; run++) {
          const t0 = performance.now();
          const bytes = await ctx.launchers[impl]!.waitPipe(argv);
          const us = (performance.now() - t0) * 1e3;
          if (bytes !== BYTES) throw new Error(`read ${bytes} bytes of stdout, expected ${BYTES}`);
          mb_per_s.push(BYTES / us);
        }
        record(metric, impl, median(mb_per_s), { mb_per_s });
      });
    }
    await ctx.step("c", [metric], metric.label, () => {
      const mb_per_s: number[] = runCLoop("spew", { n: runs_per_round, bytes: BYTES }).mb_per_s;
      record(metric, "c", median(mb_per_s), { mb_per_s });
    });
  }
}
