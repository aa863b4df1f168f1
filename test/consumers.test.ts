// The libraries programs launch processes through, under the forkless preload and without it:
// test/fixtures/child-process-consumers.mjs runs execa, zx, tinyexec, nano-spawn and cross-spawn
// in their typical calls (await, pipe, all, input, lines, timeout, template literals, nothrow,
// exit codes) and records what their callers read; each scenario is one test here.
import { describe } from "bun:test";
import { join } from "node:path";
import { runBoth } from "./preload-run.ts";
import { compareRuns } from "./preload-compare.ts";

const fixture = join(import.meta.dir, "fixtures", "child-process-consumers.mjs");
const runs = await runBoth(fixture);

describe("npm's process libraries under the preload", () => {
  compareRuns(runs);
});
