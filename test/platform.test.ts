// Which engine forkless runs on: the loader's order (FORKLESS_LIBRARY / FORKLESS_HELPER, the
// platform package, the repository's zig-out), its errors when nothing fits, and the fallback to
// Bun's own spawn where there is no engine (forced here with FORKLESS_ENGINE=bun, as on a Mac).
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { locate, type Surroundings } from "../src/engine.ts";

const root = join(import.meta.dir, "..");

function surroundings(over: Partial<Surroundings> & { files?: string[]; packages?: Record<string, string> }): Surroundings {
  const files = new Set(over.files ?? []);
  return {
    os: "linux",
    arch: "x64",
    libc: () => "gnu",
    env: {},
    packageDirectory: (name) => over.packages?.[name],
    exists: (path) => files.has(path),
    zigOut: "/repo/zig/zig-out",
    ...over,
  };
}

describe("the loader's order", () => {
  const pkg = "/app/node_modules/@forkless/linux-x64-gnu";
  const everything = [`${pkg}/libforkless.so`, `${pkg}/forkless-helper`, "/repo/zig/zig-out/lib/libforkless.so", "/repo/zig/zig-out/bin/forkless-helper", "/opt/lib.so", "/opt/helper"];
  const packages = { "@forkless/linux-x64-gnu": pkg };

  test("FORKLESS_LIBRARY and FORKLESS_HELPER first, each for its own file", () => {
    expect(locate(surroundings({ files: everything, packages, env: { FORKLESS_LIBRARY: "/opt/lib.so", FORKLESS_HELPER: "/opt/helper" } }))).toEqual({
      kind: "native",
      platform: "linux-x64-gnu",
      library: "/opt/lib.so",
      helper: "/opt/helper",
      source: "FORKLESS_LIBRARY",
    });
    expect(locate(surroundings({ files: everything, packages, env: { FORKLESS_HELPER: "/opt/helper" } }))).toMatchObject({ library: `${pkg}/libforkless.so`, helper: "/opt/helper" });
  });

  test("then the platform package that matches arch and libc, then the repository's zig-out", () => {
    expect(locate(surroundings({ files: everything, packages }))).toMatchObject({ kind: "native", library: `${pkg}/libforkless.so`, helper: `${pkg}/forkless-helper`, source: "@forkless/linux-x64-gnu" });
    expect(locate(surroundings({ files: everything }))).toMatchObject({ library: "/repo/zig/zig-out/lib/libforkless.so", source: "the repository's zig/zig-out" });
    const musl = "/app/node_modules/@forkless/linux-arm64-musl";
    expect(locate(surroundings({ arch: "arm64", libc: () => "musl", files: [`${musl}/libforkless.so`], packages: { "@forkless/linux-arm64-musl": musl } }))).toMatchObject({
      platform: "linux-arm64-musl",
      source: "@forkless/linux-arm64-musl",
    });
  });

  test("nothing fits: the error names the platform, the package and what to do", () => {
    expect(() => locate(surroundings({ libc: () => "musl" }))).toThrow(
      "forkless: no native engine found for linux-x64-musl (x64, musl): the package @forkless/linux-x64-musl is not installed.",
    );
    expect(() => locate(surroundings({}))).toThrow(/reinstall forkless without --omit=optional .* set FORKLESS_LIBRARY/);
    expect(() => locate(surroundings({ files: everything, env: { FORKLESS_LIBRARY: "/nope.so" } }))).toThrow(
      "forkless: FORKLESS_LIBRARY is set to /nope.so, which does not exist; point it at a libforkless.so built for linux-x64-gnu, or unset it",
    );
  });

  test("no engine for other systems and architectures, or with FORKLESS_ENGINE=bun: Bun's spawn", () => {
    expect(locate(surroundings({ os: "darwin", arch: "arm64", files: everything }))).toEqual({ kind: "bun", platform: "darwin-arm64", reason: "does not exist for darwin-arm64" });
    expect(locate(surroundings({ os: "win32" }))).toMatchObject({ kind: "bun", platform: "win32-x64" });
    expect(locate(surroundings({ arch: "riscv64", files: everything }))).toMatchObject({ kind: "bun", platform: "linux-riscv64-gnu" });
    expect(locate(surroundings({ files: everything, env: { FORKLESS_ENGINE: "bun" } }))).toMatchObject({ kind: "bun", reason: "is turned off (FORKLESS_ENGINE=bun)" });
  });

  test("this process: the repository's own build", () => {
    expect(locate()).toMatchObject({ kind: "native", source: "the repository's zig/zig-out", library: join(root, "zig", "zig-out", "lib", "libforkless.so") });
  });
});

describe("the fallback to Bun's spawn", () => {
  // A child program, so the engine choice is made fresh: FORKLESS_ENGINE=bun stands in for a Mac.
  const program = `
    const { spawn, spawnSync, spawnAndWait, template, Container, engine } = await import(${JSON.stringify(join(root, "src", "index.ts"))});
    const out = { engine };
    const p = spawn(["sh", "-c", "echo out; echo err >&2; exit 3"], { stdout: "pipe", stderr: "pipe" });
    out.spawn = [await new Response(p.stdout).text(), await new Response(p.stderr).text(), await p.exited];
    out.bunSubprocess = Object.prototype.toString.call(p) === Object.prototype.toString.call(Bun.spawn(["true"]));
    const s = spawnSync(["sh", "-c", "echo sync; exit 4"]);
    out.sync = [s.stdout.toString(), s.exitCode, s.success];
    const w = await spawnAndWait(["sh", "-c", "echo w; exit 5"]);
    out.wait = [w.stdout.toString(), w.exitCode, w.success];
    const t = template(["echo", "t"], { stdout: "pipe", env: { A: "1" } });
    out.template = t.spawnSync({ args: ["$A"] }).stdout.toString();
    out.templateAsync = await new Response(t.spawn({ args: ["y"] }).stdout).text();
    t.close();
    const thrown = (f) => { try { f(); return "returned"; } catch (e) { return [e.code, e.message]; } };
    out.container = thrown(() => new Container());
    out.rlimits = thrown(() => spawn(["true"], { rlimits: { nofile: 10 } }));
    out.maxMemory = thrown(() => spawnSync(["true"], { maxMemory: 1e6 }));
    console.log(JSON.stringify(out));`;

  test("spawn, spawnSync, spawnAndWait and templates work; a Container and rlimits refuse, clearly", () => {
    const result = Bun.spawnSync([process.execPath, "-e", program], { env: { ...process.env, FORKLESS_ENGINE: "bun" }, stderr: "pipe" });
    // FORKLESS_ENGINE=bun is a choice: no warning. A platform without an engine warns once.
    expect(result.stderr.toString()).toBe("");
    const unsupported = (what: string) => ["ERR_FORKLESS_UNSUPPORTED", `${what} needs forkless's native engine, which is turned off (FORKLESS_ENGINE=bun); forkless does not pretend to give it with Bun's spawn`];
    expect(JSON.parse(result.stdout.toString())).toEqual({
      engine: "bun",
      spawn: ["out\n", "err\n", 3],
      bunSubprocess: true,
      sync: ["sync\n", 4, false],
      wait: ["w\n", 5, false],
      template: "t $A\n",
      templateAsync: "t y\n",
      container: unsupported("a Container (no child outlives the program)"),
      rlimits: unsupported("rlimits"),
      maxMemory: unsupported("maxMemory"),
    });
  });

  test("under the preload, Bun.spawn still ends in Bun's own", () => {
    const probe = `const p = Bun.spawnSync(["echo", "hi"]); console.log(JSON.stringify([Bun.spawn.forkless, p.stdout.toString()]));`;
    const result = Bun.spawnSync([process.execPath, "--preload", join(root, "src", "global.ts"), "-e", probe], { env: { ...process.env, FORKLESS_ENGINE: "bun" }, stderr: "pipe" });
    expect(result.stderr.toString()).toBe("");
    expect(JSON.parse(result.stdout.toString())).toEqual([true, "hi\n"]);
  });
});

test("the vfork-style launch (qemu-user's only way; forced here with FORKLESS_FORCE_VFORK=1) runs spawn, spawnSync, templates and a Container alike", () => {
  // Under qemu-user clone(CLONE_VM) without CLONE_VFORK fails with EINVAL; the engine then
  // suspends the launching thread until the child's exec. The results must not change.
  const program = `
    const { spawn, spawnSync, template, Container } = await import(${JSON.stringify(join(root, "src", "index.ts"))});
    const p = spawn(["sh", "-c", "echo out; echo err >&2; exit 3"], { stdout: "pipe", stderr: "pipe" });
    const t = template(["echo", "t"]);
    const box = new Container();
    const inBox = box.spawn(["echo", "boxed"], { stdout: "pipe" });
    const result = {
      spawn: [await new Response(p.stdout).text(), await new Response(p.stderr).text(), await p.exited],
      sync: spawnSync(["sh", "-c", "echo sync; exit 4"]).stdout.toString(),
      missing: (() => { try { spawn(["/nonexistent"]); return "returned"; } catch (e) { return e.code; } })(),
      template: t.spawnSync({ args: ["x"] }).stdout.toString(),
      box: [await new Response(inBox.stdout).text(), await inBox.exited],
    };
    t.close();
    await box.close();
    console.log(JSON.stringify(result));`;
  const outcomes = [{}, { FORKLESS_FORCE_VFORK: "1" }].map((extra) => {
    const result = Bun.spawnSync([process.execPath, "-e", program], { env: { ...process.env, ...extra }, stderr: "pipe" });
    expect(result.stderr.toString()).toBe("");
    return JSON.parse(result.stdout.toString());
  });
  expect(outcomes[1]).toEqual(outcomes[0]);
  expect(outcomes[1]).toEqual({ spawn: ["out\n", "err\n", 3], sync: "sync\n", missing: "ENOENT", template: "t x\n", box: ["boxed\n", 0] });
});
