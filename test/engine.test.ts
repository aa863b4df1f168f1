// Engine hardening: the crashes, hangs and wrong results a review of zig/src found, each pinned
// where a user meets it. Programs that must run with process-wide settings (SIGCHLD ignored, a
// set*id call that could hang) run as fixtures in their own process, under a hang guard.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawn, spawnSync } from "../src/index.ts";
import { bunPath, dumpable, enterProjectRoot, errorShape, fixturesDir, type AnySpawn } from "./oracle.ts";
import { eventually } from "./wait.ts";

setDefaultTimeout(120_000);
beforeAll(enterProjectRoot);
const isRoot = process.getuid!() === 0;

/** Runs `bun fixtures/<name>` to its end; a fixture still running after `guardMs` is SIGKILLed
 * (a hang guard: the assertion is on what it printed, which a hung fixture never prints). */
async function runGuarded(name: string, guardMs = 30_000) {
  const child = Bun.spawn([bunPath, `${fixturesDir}${name}`], { stdout: "pipe", stderr: "pipe", timeout: guardMs, killSignal: "SIGKILL" });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  return { stdout, stderr, exitCode: child.exitCode, signalCode: child.signalCode };
}

describe("the process around the engine", () => {
  test("SIGCHLD ignored (autoreap): spawnSync reports what Bun reports instead of aborting Bun", async () => {
    const run = await runGuarded("engine-sigchld-ignored.ts");
    expect({ exitCode: run.exitCode, stderr: run.stderr }).toEqual({ exitCode: 0, stderr: "" });
    const report = JSON.parse(run.stdout);
    // The kernel reaped the child: its status is gone. Bun then reports no code and no signal.
    expect(report["bun spawnSync"]).toEqual({ exitCode: null, signalCode: null, success: false, stdout: "hi\n" });
    expect(report["forkless spawnSync"]).toEqual(report["bun spawnSync"]);
    // spawn: Bun's `exited` rejects with ECHILD; forkless's settles too, and the output is whole.
    expect(report["bun spawn"]).toEqual({ stdout: "async\n", exited: { rejected: "ECHILD" } });
    expect(report["forkless spawn"].stdout).toBe("async\n");
  });

  test("setgid/setuid return after a child with a death signal (glibc's SIGSETXID is never blocked)", async () => {
    const run = await runGuarded("engine-setxid.ts");
    expect(run).toEqual({ stdout: "returned\n", stderr: "", exitCode: 0, signalCode: null });
  });

  test.skipIf(!isRoot)("a child given a uid leaves this process dumpable, as Bun does (ptrace, perf, core dumps)", async () => {
    expect(dumpable()).toBe(1);
    Bun.spawnSync(["id", "-u"], { uid: 65534 });
    expect(dumpable()).toBe(1); // the oracle
    expect(spawnSync(["id", "-u"], { uid: 65534 }).stdout.toString()).toBe("65534\n");
    expect(dumpable()).toBe(1);
    // spawn: the engine learns of the exec a moment later; the flag is back by then.
    const children = Array.from({ length: 20 }, () => spawn(["id", "-u"], { uid: 65534, gid: 65534, stdout: "pipe" }));
    expect(await Promise.all(children.map((c) => new Response(c.stdout).text()))).toEqual(Array(20).fill("65534\n"));
    await Promise.all(children.map((c) => c.exited));
    expect(await eventually(() => dumpable() === 1)).toBe(true);
  });
});

describe("many long-lived children", () => {
  // Every launch holds a stack until the engine sees its exec. The reaper used to sleep without
  // a timeout while no child had ended, so it never saw them: spawn 4,097 failed with ENOMEM.
  test("5,000 children that keep running, then one more spawn", async () => {
    const children: ReturnType<typeof spawn>[] = [];
    try {
      for (let i = 0; i < 5000; i++) children.push(spawn(["sleep", "1000"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" }));
      const one = spawn(["sh", "-c", "echo one more"], { stdout: "pipe" });
      expect(await new Response(one.stdout).text()).toBe("one more\n");
      expect(await one.exited).toBe(0);
    } finally {
      for (const child of children) child.kill("SIGKILL");
      await Promise.all(children.map((c) => c.exited));
    }
    expect(children.length).toBe(5000);
    expect(children.every((c) => c.signalCode === "SIGKILL")).toBe(true);
  });
});

describe("what execve will say, predicted for the child", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync("/tmp/forkless-exec-");
    chmodSync(dir, 0o755); // searchable by the uid a test hands the child
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** What each implementation does with cmd/options: the shape of what it threw, or the exit code. */
  async function outcomes(cmd: string[], options: object) {
    const seen: Record<string, { sync: unknown; spawn: unknown }> = {};
    for (const [name, run, runSync] of [["bun", Bun.spawn, Bun.spawnSync], ["forkless", spawn, spawnSync]] as [string, AnySpawn, AnySpawn][]) {
      let sync: unknown;
      try {
        sync = runSync(cmd, options).exitCode;
      } catch (error) {
        sync = errorShape(error);
      }
      let child;
      try {
        child = run(cmd, options);
      } catch (error) {
        seen[name] = { sync, spawn: errorShape(error) };
        continue;
      }
      seen[name] = { sync, spawn: await child.exited };
    }
    return seen;
  }

  test("a #! interpreter installed after a failed launch is found at the next launch", async () => {
    const script = join(dir, "late.sh");
    const interpreter = join(dir, "late-interpreter");
    writeFileSync(script, `#!${interpreter}\nexit 7\n`, { mode: 0o755 });
    const before = await outcomes([script], {});
    expect(before.forkless).toEqual(before.bun);
    expect((before.bun!.sync as { code: string }).code).toBe("ENOENT");
    copyFileSync("/bin/sh", interpreter);
    chmodSync(interpreter, 0o755);
    const after = await outcomes([script], {});
    expect(after.bun).toEqual({ sync: 7, spawn: 7 });
    expect(after.forkless).toEqual(after.bun);
  });

  test("a relative #! interpreter is resolved in the child's cwd, as the kernel does", async () => {
    const sub = mkdtempSync(join(dir, "cwd-"));
    symlinkSync("/bin/sh", join(sub, "relative-sh"));
    const script = join(dir, "relative.sh");
    writeFileSync(script, "#!relative-sh\nexit 9\n", { mode: 0o755 });
    const inSub = await outcomes([script], { cwd: sub });
    expect(inSub.bun).toEqual({ sync: 9, spawn: 9 });
    expect(inSub.forkless).toEqual(inSub.bun);
    // And where the cwd has no such file: ENOENT for both, at once.
    const inRoot = await outcomes([script], { cwd: "/" });
    expect(inRoot.forkless).toEqual(inRoot.bun);
    expect((inRoot.bun!.sync as { code: string }).code).toBe("ENOENT");
  });

  test.skipIf(!isRoot)("execute permission is judged for the uid the child runs as", async () => {
    const private_ = join(dir, "root-only.sh");
    writeFileSync(private_, "#!/bin/sh\nexit 3\n", { mode: 0o700 });
    const denied = await outcomes([private_], { uid: 65534 });
    expect((denied.bun!.sync as { code: string }).code).toBe("EACCES");
    expect(denied.forkless).toEqual(denied.bun);
    const shared = join(dir, "everyone.sh");
    writeFileSync(shared, "#!/bin/sh\nexit 4\n", { mode: 0o755 });
    const allowed = await outcomes([shared], { uid: 65534 });
    expect(allowed.bun).toEqual({ sync: 4, spawn: 4 });
    expect(allowed.forkless).toEqual(allowed.bun);
  });
});
