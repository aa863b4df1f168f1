// The tests of a preload comparison (test/child-process.test.ts, test/consumers.test.ts): one per
// scenario, forkless's observation toEqual Bun's, or a correction's assertions where Bun is wrong;
// then the program as a whole: it ran every scenario, ended by itself, left nothing behind, and
// printed the same to its inherited stdout and stderr.
import { expect, test } from "bun:test";
import type { FixtureRun } from "./preload-run.ts";

/** Scenario name → what to assert instead of equality, for a scenario where Bun is wrong. */
export type Corrections = Record<string, (bun: unknown, forkless: unknown) => void>;

export function compareRuns(runs: { bun: FixtureRun; forkless: FixtureRun }, corrections: Corrections = {}): void {
  const { bun, forkless } = runs;
  test("both programs ran every scenario and ended by themselves, leaving no process behind", () => {
    const summary = (run: FixtureRun) => ({ exitCode: run.exitCode, hung: run.hung, leftovers: run.leftovers, scenarios: Object.keys(run.results).length > 0 });
    const healthy = { exitCode: 0, hung: false, leftovers: false, scenarios: true };
    expect({ bun: summary(bun), forkless: summary(forkless), forklessStderr: forkless.hung || forkless.exitCode !== 0 ? forkless.stderr : "" }).toEqual({
      bun: healthy,
      forkless: healthy,
      forklessStderr: "",
    });
    expect(Object.keys(forkless.results)).toEqual(Object.keys(bun.results));
  });
  for (const name of Object.keys(bun.results)) {
    test(name, () => {
      const correction = corrections[name];
      if (correction) correction(bun.results[name], forkless.results[name]);
      else expect(forkless.results[name]).toEqual(bun.results[name]);
    });
  }
  test("the inherited stdout and stderr got the same text", () => {
    expect({ stdout: forkless.stdout, stderr: forkless.stderr }).toEqual({ stdout: bun.stdout, stderr: bun.stderr });
  });
}
