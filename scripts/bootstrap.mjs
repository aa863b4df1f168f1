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

function zig(args) {
  run("python3", ["-m", "ziglang", ...args], { cwd: join(root, "zig"), env: zigEnv() });
}

// Zig's own cache makes this a no-op when nothing changed, and it always yields the release build
// (a debug build left behind by hand would otherwise be picked up silently).
function build() {
  zig(["build", "-Doptimize=ReleaseSafe"]);
}

const what = process.argv[2] ?? "build";
ensureNpm();
ensureZig();
build();
if (what === "test") {
  zig(["build", "test", "-Doptimize=ReleaseSafe", "--summary", "all"]);
  // bunfig.toml's [test] timeout is not applied by Bun 1.4.5: give it on the command line. It is a
  // hang guard for a suite that spawns thousands of processes, not a speed assertion.
  run(bun, ["test", "--timeout", "120000", ...process.argv.slice(3)]);
} else if (what === "bench") {
  run(bun, ["run", "bench/index.ts", ...process.argv.slice(3)]);
}
