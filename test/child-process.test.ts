// node:child_process under the forkless preload, compared with the same program on Bun's own
// spawn: test/fixtures/child-process-scenarios.ts runs every scenario in both and records what a
// program observes; each scenario is one test here, so a failure names it. Bun implements
// node:child_process on Bun.spawn, so this is what the preload changes for every program on it.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { runBoth } from "./preload-run.ts";
import { compareRuns, type Corrections } from "./preload-compare.ts";

const fixture = join(import.meta.dir, "fixtures", "child-process-scenarios.ts");
const runs = await runBoth(fixture);

/** Where Bun is wrong, forkless does what node does and the test says so. */
const corrections: Corrections = {
  // At maxBuffer Bun's spawnSync closes the pipe and never sends killSignal: the child dies of
  // SIGPIPE or exits 1 on ECONNRESET, whichever its next write meets (a race). node and forkless
  // send killSignal (SIGTERM). The rest (ENOBUFS, its message and fields) is Bun's.
  "spawnSync: maxBuffer": (bun, forkless) => {
    expect(forkless).toMatchObject({ signal: "SIGTERM", status: null, stderr: { Buffer: "" } });
    const racy = { signal: "<race>", status: "<race>", stderr: "<race>" };
    expect({ ...(forkless as object), ...racy }).toEqual({ ...(bun as object), ...racy });
  },
  "execFileSync: maxBuffer": (bun, forkless) => {
    const thrown = (run: unknown) => (run as { threw: Record<string, unknown> }).threw;
    expect(thrown(forkless)).toMatchObject({ signal: "SIGTERM", status: null, stderr: { Buffer: "" } });
    const racy = { signal: "<race>", status: "<race>", stderr: "<race>" };
    expect({ ...thrown(forkless), ...racy }).toEqual({ ...thrown(bun), ...racy });
  },
};

describe("node:child_process under the preload", () => {
  compareRuns(runs, corrections);
});
