// forkless/global: a separate program whose dependency calls Bun.spawn directly gets forkless
// once bunfig.toml preloads "forkless/global", and Bun's own spawn without it.
import { expect, test } from "bun:test";
import { join } from "node:path";

const app = join(import.meta.dir, "fixtures", "global-app");

function runApp(args: string[]) {
  const result = Bun.spawnSync([process.execPath, ...args, "main.ts"], { cwd: app, stderr: "pipe" });
  expect(result.stderr.toString()).toBe("");
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout.toString());
}

test("the preload swaps Bun.spawn and Bun.spawnSync for the whole program, dependencies included", () => {
  expect(runApp([])).toEqual({
    forklessSubprocess: true,
    spawnIsForkless: true,
    originalKept: true,
    terminalIsForkless: true,
    text: "from-dependency\n",
    code: 0,
    syncText: "sync-from-dependency\n",
  });
});

test("without the preload the same program runs on Bun's own spawn", () => {
  // --config pointing at an empty file replaces the app's bunfig.toml (and its preload).
  const report = runApp([`--config=${join(app, "..", "global-app-no-preload.toml")}`]);
  expect(report.forklessSubprocess).toBe(false);
  expect(report.spawnIsForkless).toBe(false);
  expect(report.terminalIsForkless).toBe(false);
  expect(report.text).toBe("from-dependency\n");
});

test("the preload loads nothing of forkless until the program first spawns", () => {
  // Every Bun process under the preload pays for what it loads, and most never spawn: the
  // engine (its library in /proc/self/maps) and the schemas wait for the first call.
  const probe = `
    const mapped = () => require("node:fs").readFileSync("/proc/self/maps", "utf8").includes("libforkless");
    const before = mapped();
    Bun.spawnSync(["true"]);
    console.log(JSON.stringify({ before, after: mapped(), forkless: Bun.spawn.forkless === true }));`;
  const result = Bun.spawnSync([process.execPath, "--preload", join(import.meta.dir, "..", "src", "global.ts"), "-e", probe], { stderr: "pipe" });
  expect(result.stderr.toString()).toBe("");
  expect(JSON.parse(result.stdout.toString())).toEqual({ before: false, after: true, forkless: true });
});
