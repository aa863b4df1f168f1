// The package as a user meets it: `npm run pack` writes the tarballs npm publish would send, and a
// fresh project (its own HOME, no Zig, Python or compiler on PATH) `bun add`s the main and the
// x64-gnu tarballs, then runs a program that spawns with pipes, a program under the bunfig
// preload, a Container program, and tsc over a typed usage file (test/types.check.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const pkg = await Bun.file(join(root, "package.json")).json();
const fixtures = join(import.meta.dir, "fixtures", "package-app");
const packages = join(root, "dist", "packages");
const tarball = (name: string) => join(packages, `${name}-${pkg.version}.tgz`);
// The tools a user's shell has; nothing that builds.
const tools = ["sh", "echo", "cat", "true", "sleep", "env", "ls", "rm", "mkdir"];

let work: string;
let app: string;
let env: Record<string, string>;

/** Runs `cmd` as the user would: in the project, with its HOME and PATH. */
function run(cmd: string[], cwd = app) {
  const result = Bun.spawnSync(cmd, { cwd, env, stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

/** The text a tool of this machine prints (tar, readelf), for looking at what was packed. */
const host = (cmd: string[]) => Bun.spawnSync(cmd, { stderr: "inherit" }).stdout.toString();

beforeAll(() => {
  // The same script CI's `npm run pack` runs (Zig's cache makes it quick once built).
  const packed = Bun.spawnSync(["node", join(root, "scripts", "bootstrap.mjs"), "pack"], { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (packed.exitCode !== 0) throw new Error(`npm run pack failed:\n${packed.stdout}\n${packed.stderr}`);
  work = mkdtempSync(join(tmpdir(), "forkless-package-"));
  const bin = join(work, "bin");
  app = join(work, "app");
  mkdirSync(bin);
  mkdirSync(join(work, "home"));
  for (const tool of tools) symlinkSync(Bun.which(tool)!, join(bin, tool));
  symlinkSync(process.execPath, join(bin, "bun"));
  env = { HOME: join(work, "home"), PATH: bin, TMPDIR: tmpdir() };
  cpSync(fixtures, app, { recursive: true });
  copyFileSync(join(import.meta.dir, "types.check.ts"), join(app, "typed.ts"));
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("npm run pack", () => {
  test("writes five tarballs: the main package and four platforms, nothing else in them", () => {
    expect(readdirSync(packages).sort()).toEqual(["forkless", "forkless-linux-arm64-gnu", "forkless-linux-arm64-musl", "forkless-linux-x64-gnu", "forkless-linux-x64-musl"].map((n) => `${n}-${pkg.version}.tgz`));
    const main = host(["tar", "-tzf", tarball("forkless")]).trim().split("\n");
    expect(main.filter((f) => /test|fixture|bench|zig|\.zig-cache|node_modules|dist\//.test(f))).toEqual([]);
    expect(main).toContain("package/src/index.ts");
    expect(main).toContain("package/types/index.d.ts");
    expect(main).toContain("package/CHANGELOG.md");
    const platform = host(["tar", "-tzf", tarball("forkless-linux-arm64-musl")]).trim().split("\n").sort();
    expect(platform).toEqual(["package/LICENSE", "package/README.md", "package/forkless-helper", "package/libforkless.so", "package/package.json"]);
  });

  test("the platform manifests declare os, cpu and libc; the main one lists them all at its version", async () => {
    const manifest = (name: string) => JSON.parse(host(["tar", "-xzOf", tarball(name), "package/package.json"]));
    expect(manifest("forkless-linux-arm64-musl")).toMatchObject({ name: "@forkless/linux-arm64-musl", version: pkg.version, os: ["linux"], cpu: ["arm64"], libc: ["musl"] });
    expect(manifest("forkless-linux-x64-gnu")).toMatchObject({ os: ["linux"], cpu: ["x64"], libc: ["glibc"] });
    const main = manifest("forkless");
    expect(main.optionalDependencies).toEqual(Object.fromEntries(["x64-gnu", "x64-musl", "arm64-gnu", "arm64-musl"].map((p) => [`@forkless/linux-${p}`, pkg.version])));
    expect(main.exports["."]).toEqual({ types: "./types/index.d.ts", default: "./src/index.ts" });
    expect(main.dependencies).toEqual(pkg.dependencies);
    expect(main.devDependencies).toBeUndefined();
    expect(main.engines).toEqual(pkg.engines);
  });

  // Every engine function src/native.ts binds, read off its dlopen table.
  const bound = [...new Set([...readFileSync(join(root, "src", "native.ts"), "utf8").matchAll(/^  (forkless_\w+): \{/gm)].map((m) => m[1]))].sort();

  test("the builds: ELF machine, interpreter-free static helpers, glibc 2.17 at most, the engine's symbols", () => {
    for (const [name, machine] of [["linux-x64-gnu", "X86-64"], ["linux-x64-musl", "X86-64"], ["linux-arm64-gnu", "AArch64"], ["linux-arm64-musl", "AArch64"]]) {
      const dir = join(root, "dist", "stage", name!);
      const lib = host(["readelf", "-W", "-h", "-d", "--dyn-syms", join(dir, "libforkless.so")]);
      expect(lib).toContain(`Machine:                           ${machine === "X86-64" ? "Advanced Micro Devices X86-64" : "AArch64"}`);
      const needed = [...lib.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
      expect(needed).toEqual(name!.endsWith("musl") ? ["libc.so"] : expect.arrayContaining(["libc.so.6"]));
      const exported = [...lib.matchAll(/ FUNC +GLOBAL +DEFAULT +\d+ (forkless_\w+)/g)].map((m) => m[1]).sort();
      expect(exported).toEqual(bound);
      const versions = [...lib.matchAll(/GLIBC_2\.(\d+)/g)].map((m) => Number(m[1]));
      expect(Math.max(0, ...versions)).toBeLessThanOrEqual(17);
      const helper = host(["readelf", "-W", "-h", "-l", join(dir, "forkless-helper")]);
      expect(helper).toContain("EXEC");
      expect(helper).not.toContain("INTERP");
    }
  });
});

describe("a fresh project", () => {
  test("has no Zig, Python or compiler on its PATH", () => {
    for (const tool of ["zig", "python3", "python", "gcc", "cc", "clang", "node"]) expect(Bun.which(tool, { PATH: env.PATH })).toBeNull();
  });

  test("bun add installs the main and the x64-gnu package", () => {
    const added = run(["bun", "add", tarball("forkless"), tarball("forkless-linux-x64-gnu")]);
    expect(added.code).toBe(0);
    expect(readdirSync(join(app, "node_modules", "@forkless"))).toEqual(["linux-x64-gnu"]);
  }, 120_000);

  test("a program spawns with pipes, on the platform package's engine", () => {
    const result = run(["bun", "spawn.ts"]);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toEqual({ engine: "native", out: "out\n", err: "err\n", code: 0, sync: "sync\n", fromPackage: true });
  });

  test("the bunfig preload swaps Bun.spawn and node:child_process", () => {
    const result = run(["bun", "main.ts"], join(app, "preload"));
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toEqual({ forkless: true, viaBun: "bun\n", viaNode: "node\n", viaExec: "a\nb\n" });
  });

  test("a Container program: its helper comes from the platform package, and no orphan outlives close()", () => {
    const result = run(["bun", "container.ts"]);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toEqual({ code: 0, orphanGone: true });
  });

  test("tsc --noEmit over a typed usage file, against the shipped declarations", () => {
    const dev = run(["bun", "add", "-d", `typescript@${pkg.devDependencies.typescript}`, `bun-types@${pkg.devDependencies["bun-types"]}`]);
    expect(dev.code).toBe(0);
    const checked = run(["bun", join(app, "node_modules", "typescript", "bin", "tsc"), "-p", "."]);
    expect(checked.stdout + checked.stderr).toBe("");
    expect(checked.code).toBe(0);
  }, 120_000);
});
