// Bootstraps a fresh clone with nothing but node, npm, python3 and gcc: npm dependencies (bun
// comes from npm), the one pinned Zig from PyPI, the Zig build; then runs tests or the benchmark.
// It installs only into the project (node_modules/, .zig/), never globally.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const zigVersion = pkg.config.zig; // the one place the Zig version is pinned
const zigHome = join(root, ".zig");
const bun = join(root, "node_modules", ".bin", "bun");

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: root, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    console.error(`forkless bootstrap: ${cmd} ${args.join(" ")} exited with ${r.status ?? r.signal}`);
    process.exit(r.status || 1);
  }
}

function ensureNpm() {
  const have = (name) => existsSync(join(root, "node_modules", name, "package.json"));
  const want = { ...pkg.dependencies, ...pkg.devDependencies };
  if (existsSync(bun) && Object.keys(want).every(have)) return;
  run("npm", ["install", "--no-audit", "--no-fund"]);
}

function zigEnv() {
  return { ...process.env, PYTHONPATH: zigHome, PYTHONDONTWRITEBYTECODE: "1" };
}

function ensureZig() {
  const stamp = join(zigHome, "ziglang", "__init__.py");
  const r = existsSync(stamp)
    ? spawnSync("python3", ["-m", "ziglang", "version"], { env: zigEnv(), encoding: "utf8" })
    : null;
  if (r && r.status === 0 && r.stdout.trim() === zigVersion) return;
  run("python3", ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade",
    "--target", zigHome, `ziglang==${zigVersion}`]);
}

/** A zig command as [cmd, args, options], for run() or a captured spawnSync. */
function zigCommand(args) {
  return ["python3", ["-m", "ziglang", ...args], { cwd: join(root, "zig"), env: zigEnv() }];
}

// Zig's own cache makes this a no-op when nothing changed, and it always yields the release build
// (a debug build left behind by hand would otherwise be picked up silently).
function build() {
  run(...zigCommand(["build", "-Doptimize=ReleaseSafe"]));
}

// The hang guard for one bun test (bunfig.toml's [test] timeout is not applied by Bun 1.4.5): a
// suite that spawns thousands of processes needs a bound, not a speed assertion.
const bunTest = (extra) => [bun, ["test", "--timeout", "120000", ...extra], {}];

function typecheck() {
  run(join(root, "node_modules", ".bin", "tsc"), ["-p", "."]);
}

const zigTest = zigCommand(["build", "test", "-Doptimize=ReleaseSafe", "--summary", "all"]);
// The engine's own tests built for musl too (static, so they run on any x86-64 Linux): the
// @forkless/linux-x64-musl build runs nowhere else here (Bun's musl build needs a musl libstdc++).
const zigTestMusl = zigCommand(["build", "test", "-Doptimize=ReleaseSafe", "-Dtarget=x86_64-linux-musl", "--summary", "all"]);
const zigTests = process.arch === "x64" ? [zigTest, zigTestMusl] : [zigTest];

/** Runs the Zig and bun tests `times` times in a row; prints each failing run's failures and the tally. */
function repeat(times, extra) {
  let passed = 0;
  for (let round = 1; round <= times; round++) {
    let failed = "";
    for (const [cmd, args, opts] of [...zigTests, bunTest(extra)]) {
      const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", maxBuffer: 256 << 20, ...opts });
      const output = `${r.stdout}${r.stderr}`;
      if (r.status !== 0) failed += `${cmd} ${args[0]}: exit ${r.status ?? r.signal}\n${failedLines(output)}\n`;
      else if (cmd === bun && strayLines(output).length > 0) failed += `stray output in the test log:\n${strayLines(output).join("\n")}\n`;
    }
    if (failed === "") passed++;
    console.log(`run ${round}/${times}: ${failed === "" ? "passed" : `FAILED\n${failed}`}`);
  }
  console.log(`${passed} passed, ${times - passed} failed`);
  process.exit(passed === times ? 0 : 1);
}

/** Lines of a passing bun test log that bun test did not write: a child or a test printing on
 * the runner's terminal ("Terminated" from a shell whose job was killed, a stray console.log). */
function strayLines(output) {
  const own = /^(\((pass|skip|todo)\) |bun test v|test\/.*:$|\s*$|\s*\d+ (pass|fail|skip|todo)$|\s*\d+ expect\(\) calls$|Ran \d+ tests? across)/;
  return output.split("\n").filter((line) => !own.test(line));
}

/** The lines of a bun test log that say what failed: (fail) lines, errors and their context. */
function failedLines(output) {
  const lines = output.split("\n");
  const keep = new Set();
  lines.forEach((line, i) => {
    if (/^\(fail\)|error:|panic|Unhandled/i.test(line)) for (let j = Math.max(0, i - 60); j <= i; j++) keep.add(j);
  });
  return [...keep].map((i) => `  ${lines[i]}`).join("\n") || output.slice(-4000);
}

const [what = "build", ...rest] = process.argv.slice(2);
ensureNpm();
ensureZig();
build();
if (what === "test") {
  for (const command of zigTests) run(...command);
  typecheck();
  run(...bunTest(rest));
} else if (what === "repeat") {
  const times = Number(rest[0] ?? 10);
  if (!Number.isInteger(times) || times < 1) {
    console.error(`forkless bootstrap: test:repeat wants a positive whole number of runs, got ${JSON.stringify(rest[0])}`);
    process.exit(2);
  }
  repeat(times, rest.slice(1));
} else if (what === "pack") {
  const { pack } = await import("./pack.mjs");
  pack(root, zigCommand);
} else if (what === "bench") {
  run(bun, ["run", "bench/index.ts", ...rest]);
}
