// One row of the benchmark, run in a bun process of its own (index.ts starts one per row), so that
// a row's process state (4 GiB resident, 20,000 fds, a crash) never touches another row.
// Usage: bun bench/rows.ts --row=N --out=FILE [--impl=bun] [--full] [--skip-forkless]
// It writes FILE after every step, so a row that crashes or hangs still reports what it measured.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { JS_IMPLS, loadForkless, nodeLauncher, bunLikeLauncher, type Impl, type JsImpl, type Launcher } from "./launchers.ts";
import { describeError, withDeadline, type Metric } from "./measure.ts";
import { ROWS } from "./catalog.ts";

export interface RowContext {
  full: boolean;
  standIn: boolean;
  launchers: Partial<Record<JsImpl, Launcher>>;
  /** The forkless module, for the template / Container hooks (empty with --impl=bun). */
  forkless: Record<string, unknown>;
  metrics: Metric[];
  /** Runs one step for one implementation; its failure is recorded on `metrics`, and skips it after. */
  step(impl: Impl, metrics: Metric[], what: string, body: () => Promise<void> | void): Promise<void>;
  /** `JS_IMPLS` rotated by `round`, so that no implementation always runs first. */
  order(round: number): JsImpl[];
  save(): void;
}

const { values: flags } = parseArgs({
  options: {
    row: { type: "string" },
    out: { type: "string" },
    impl: { type: "string", default: "forkless" },
    full: { type: "boolean", default: false },
    "skip-forkless": { type: "boolean", default: false },
  },
});

async function main(): Promise<void> {
  const row = ROWS.find((r) => r.id === flags.row);
  if (!row || !flags.out) throw new Error(`usage: bun bench/rows.ts --row=<${ROWS.map((r) => r.id).join("|")}> --out=FILE`);
  const out = flags.out;
  const state = { row: row.id, metrics: [] as Metric[], current: "", done: false };
  const save = () => writeFileSync(out, JSON.stringify(state));
  const launchers: Partial<Record<JsImpl, Launcher>> = { bun: bunLikeLauncher(Bun, "Bun.spawn"), node: nodeLauncher() };
  let forkless: Record<string, unknown> = {};
  let forklessError = "";
  if (flags["skip-forkless"]) {
    forklessError = "skipped: this row's process crashed or hung with forkless (see the note)";
  } else {
    try {
      const loaded = await loadForkless(flags.impl === "bun");
      forkless = loaded.module;
      launchers.forkless = loaded.launcher;
    } catch (error) {
      forklessError = `import failed: ${describeError(error)}`;
    }
  }
  // A step takes under a second in the default mode; one still running after 6 s is hung, and
  // the whole bench must still end within its minute.
  const deadline_ms = flags.full ? 120_000 : 6_000;
  const ctx: RowContext = {
    full: flags.full!,
    standIn: flags.impl === "bun",
    launchers,
    forkless,
    metrics: state.metrics,
    order: (round) => JS_IMPLS.map((_, i) => JS_IMPLS[(i + round) % JS_IMPLS.length]!),
    save,
    async step(impl, metrics, what, body) {
      if (impl !== "c" && !launchers[impl]) {
        for (const m of metrics) m.errors[impl] ??= forklessError || "not loaded";
        return;
      }
      if (metrics.some((m) => m.errors[impl])) return;
      state.current = `${what} (${impl})`;
      save();
      try {
        await withDeadline(Promise.resolve().then(body), deadline_ms, `${impl}: ${what}`);
      } catch (error) {
        for (const m of metrics) m.errors[impl] = describeError(error);
      }
      state.current = "";
      save();
    },
  };
  await row.run(ctx);
  state.done = true;
  save();
  // Children a hung implementation left behind must not keep this process alive.
  process.exit(0);
}

await main();
