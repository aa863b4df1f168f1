// maxMemory, memoryUsage() and exitedDueToMaxMemory (Bun's main branch, test/js/bun/spawn/
// spawn-max-memory.test.ts in oven-sh/bun is the spec: Bun 1.4.5 has none of it, so nothing is
// compared with Bun here). Both routes run on a host that allows a memory cgroup: the cgroup one
// by default, the sampler one forced; on a host that does not, only the sampler's tests run and
// the route test checks that the sampler was chosen. Children hold real memory (every page
// touched), one scenario at a time, so no test waits on another's pressure.
import { afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Container, spawn, spawnSync, template } from "../src/index.ts";
import {
  memoryCgroupCandidate,
  memoryCgroupParent,
  ownCgroupsLeft,
  probeCgroupParent,
  removeStaleCgroups,
  setMemoryRouteForTesting,
} from "../src/memory.ts";
import { eventually, expectNoFdLeft } from "./wait.ts";
import { bunPath, isAlive, thrownBy } from "./oracle.ts";

// A guard against hangs (a kill that never comes), not a timing assert.
setDefaultTimeout(60_000);

const MB = 1024 * 1024;

/** Touches every page, so the memory is resident, then parks. */
const hog = (mb: number) =>
  `const b = Buffer.allocUnsafe(${mb} * 1024 * 1024); for (let i = 0; i < b.length; i += 4096) b[i] = 1; globalThis.keep = b; setInterval(() => {}, 1000);`;

/** The child is killed and awaited when its scope ends, however the test ended. */
function owned<T extends { kill(signal?: string): void; exited: Promise<number> }>(proc: T): T & AsyncDisposable {
  return Object.assign(proc, {
    async [Symbol.asyncDispose]() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  });
}

async function gone(pid: number): Promise<boolean> {
  return eventually(() => !isAlive(pid));
}

/** Reads a child's stdout until it holds a newline. */
async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  for await (const chunk of stream) {
    text += Buffer.from(chunk).toString();
    if (text.includes("\n")) break;
  }
  return text.split("\n")[0]!;
}

/**
 * The oracle for the route: can this process make a memory cgroup under its own, with a limit
 * the kernel enforces and reports? Written independently of src/memory.ts, from the kernel's
 * files: a v1 memory line in /proc/self/cgroup, or v2 at the root; the limit file opened without
 * creating it; on v1 the OOM killer on and counting.
 */
function canMakeMemoryCgroup(): boolean {
  const own = readFileSync("/proc/self/cgroup", "utf8").split("\n");
  const v1 = own.map((l) => l.split(":")).find(([, c]) => c?.split(",").includes("memory"));
  const v2 = own.find((l) => l === "0::/");
  const dir = v1 ? `/sys/fs/cgroup/memory${v1.slice(2).join(":")}/oracle-${process.pid}` : v2 ? `/sys/fs/cgroup/oracle-${process.pid}` : "";
  if (!dir) return false;
  try {
    mkdirSync(dir);
  } catch {
    return false;
  }
  try {
    writeFileSync(join(dir, v1 ? "memory.limit_in_bytes" : "memory.max"), String(1024 * MB), { flag: "r+" });
    if (v1) return /^oom_kill \d+$/m.test(readFileSync(join(dir, "memory.oom_control"), "utf8"));
    return true;
  } catch {
    return false;
  } finally {
    rmdirSync(dir);
  }
}

const has_cgroup = canMakeMemoryCgroup();
const routes = has_cgroup ? (["cgroup", "sampler"] as const) : (["sampler"] as const);

// An idle Bun child's size, measured: every limit below is made from it.
let idle_bytes = 0;
beforeAll(async () => {
  await using idle = owned(spawn([bunPath, "-e", `console.log("ready"); setInterval(() => {}, 1000);`], { stdio: ["ignore", "pipe", "ignore"] }));
  await firstLine(idle.stdout);
  idle_bytes = idle.memoryUsage().current;
  expect(idle_bytes).toBeGreaterThan(0);
});

/** A limit a tree of `processes` idle Bun processes stays well below; a hog well over it. */
const limitFor = (processes: number) => Math.ceil((processes * idle_bytes * 1.5) / MB) * MB + 64 * MB;
const hogFor = (processes: number) => hog(limitFor(processes) / MB + 256);
/** A child that starts a hog sized for `processes` as its own child, prints its pid, outlives it. */
const parentOfHog = (processes: number) => `
  const child = Bun.spawn({ cmd: [process.execPath, "-e", ${JSON.stringify(hogFor(processes))}], stdio: ["ignore", "ignore", "ignore"] });
  console.log(child.pid);
  await child.exited;
  setInterval(() => {}, 1000);`;

afterEach(() => setMemoryRouteForTesting(undefined));

describe("maxMemory: the option", () => {
  const cmd = [bunPath, "-e", "1"];

  test("a bad value throws at the call, naming maxMemory and what it must be", () => {
    const cases: [unknown, string, string][] = [
      [-1, "RangeError", "ERR_OUT_OF_RANGE"],
      [-Infinity, "RangeError", "ERR_OUT_OF_RANGE"],
      [NaN, "RangeError", "ERR_OUT_OF_RANGE"],
      [2 ** 60, "RangeError", "ERR_OUT_OF_RANGE"],
      [1.5, "TypeError", "ERR_INVALID_ARG_TYPE"],
      ["64", "TypeError", "ERR_INVALID_ARG_TYPE"],
      [64n, "TypeError", "ERR_INVALID_ARG_TYPE"],
      [{}, "TypeError", "ERR_INVALID_ARG_TYPE"],
    ];
    for (const [maxMemory, cls, code] of cases) {
      for (const call of [() => spawn(cmd, { maxMemory } as never), () => spawnSync(cmd, { maxMemory } as never)]) {
        const shape = thrownBy(call);
        expect(shape).toMatchObject({ class: cls, code });
        expect(shape === "returned" ? "" : shape.message).toContain('"maxMemory"');
        expect(shape === "returned" ? "" : shape.message).toMatch(/integer|number/);
      }
    }
  });

  test("0, -0, null, undefined and Infinity mean no limit: no route, no exitedDueToMaxMemory field", async () => {
    for (const maxMemory of [0, -0, null, undefined, Infinity]) {
      const result = spawnSync(cmd, { maxMemory });
      expect(result.exitCode).toBe(0);
      expect("exitedDueToMaxMemory" in result).toBe(false);
      await using child = owned(spawn(cmd, { maxMemory }));
      expect(child._memoryRoute).toBeUndefined();
      expect(await child.exited).toBe(0);
      expect(child.exitedDueToMaxMemory).toBe(false);
    }
  });

  test("exitedDueToMaxMemory sits after resourceUsage, before pid, in spawnSync's result", () => {
    const result = spawnSync(cmd, { maxMemory: 1024 * MB, timeout: 60_000 });
    expect(Object.keys(result)).toEqual(["exitCode", "stdout", "stderr", "success", "resourceUsage", "exitedDueToTimeout", "exitedDueToMaxMemory", "pid"]);
    expect(result.exitedDueToMaxMemory).toBe(false);
  });
});

describe("maxMemory: which route", () => {
  test(`this host ${has_cgroup ? "allows" : "does not allow"} a memory cgroup, and the route follows`, async () => {
    expect(memoryCgroupParent() !== undefined).toBe(has_cgroup);
    await using limited = owned(spawn([bunPath, "-e", "setInterval(() => {}, 1000)"], { stdio: ["ignore", "ignore", "ignore"], maxMemory: 1024 * MB }));
    expect(limited._memoryRoute).toBe(has_cgroup ? "cgroup" : "sampler");
  });

  test("the sampler takes what the kernel cannot: a template's launches, a cgroup of the user's, a limit under 16 MiB", async () => {
    using t = template([bunPath, "-e", "setInterval(() => {}, 1000)"], { stdio: ["ignore", "ignore", "ignore"], maxMemory: 1024 * MB });
    await using fromTemplate = owned(t.spawn());
    expect(fromTemplate._memoryRoute).toBe("sampler");
    await using tiny = owned(spawn([bunPath, "-e", "setInterval(() => {}, 1000)"], { stdio: ["ignore", "ignore", "ignore"], maxMemory: 8 * MB }));
    expect(tiny._memoryRoute).toBe("sampler");
    const parent = memoryCgroupParent();
    if (!parent) return;
    const own = join(parent.dir, `user-cgroup-${process.pid}`);
    mkdirSync(own);
    try {
      await using inUserCgroup = owned(spawn([bunPath, "-e", "1"], { cgroup: own, maxMemory: 1024 * MB }));
      expect(inUserCgroup._memoryRoute).toBe("sampler");
      expect(await inUserCgroup.exited).toBe(0);
    } finally {
      rmdirSync(own);
    }
  });

  // The parsing of both hierarchies is tested from text; only the v1 one can also be run here
  // when this host is v1 (and v2 enforcement only on a v2 host at its root).
  test("the candidate: v1's memory line wins, v2 at the root or below, paths under a mount's root", () => {
    const v1mount = "30 25 0:27 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n";
    const v2mount = "29 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
    expect(memoryCgroupCandidate("4:memory:/a/b\n0::/\n", v1mount + v2mount)).toEqual({ version: 1, dir: "/sys/fs/cgroup/memory/a/b" });
    expect(memoryCgroupCandidate("0::/\n", v2mount)).toEqual({ version: 2, dir: "/sys/fs/cgroup" });
    expect(memoryCgroupCandidate("0::/user.slice/x\n", v2mount)).toEqual({ version: 2, dir: "/sys/fs/cgroup/user.slice/x" });
    // A mount of a subtree (a container's view): the path is relative to the mount's root.
    const nsmount = "29 25 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
    expect(memoryCgroupCandidate("0::/docker/abc/inner\n", nsmount)).toEqual({ version: 2, dir: "/sys/fs/cgroup/inner" });
    expect(memoryCgroupCandidate("0::/elsewhere\n", nsmount)).toBeUndefined();
    // No memory controller anywhere we can see, or no cgroup filesystem mounted.
    expect(memoryCgroupCandidate("3:cpu:/\n", v1mount)).toBeUndefined();
    expect(memoryCgroupCandidate("0::/\n", v1mount)).toBeUndefined();
    // mountinfo escapes a space in a mount point as \040.
    const spaced = "29 25 0:26 / /mnt/c\\040g rw - cgroup2 cgroup2 rw\n";
    expect(memoryCgroupCandidate("0::/\n", spaced)).toEqual({ version: 2, dir: "/mnt/c g" });
  });

  test("a directory that only looks like cgroupfs is refused (the limit files are never created)", () => {
    const fake = mkdtempSync(join(tmpdir(), "forkless-fake-cgroup-"));
    try {
      for (const version of [1, 2] as const) expect(probeCgroupParent({ version, dir: fake })).toBe(false);
      expect(existsSync(join(fake, `forkless-probe-${process.pid}`))).toBe(false);
    } finally {
      rmSync(fake, { recursive: true });
    }
  });

  test.skipIf(!has_cgroup)("an empty cgroup left by a forkless process that died goes; a live owner's stays", async () => {
    const parent = memoryCgroupParent()!;
    const dead = spawnSync(["true"]).pid;
    const stale = join(parent.dir, `forkless-${dead}-1`);
    const live = join(parent.dir, `forkless-${process.ppid}-77`);
    mkdirSync(stale);
    mkdirSync(live);
    try {
      removeStaleCgroups(parent.dir);
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(live)).toBe(true);
    } finally {
      for (const dir of [stale, live]) if (existsSync(dir)) rmdirSync(dir);
    }
  });
});

for (const route of routes) {
  describe(`maxMemory on the ${route} route`, () => {
    const use = () => setMemoryRouteForTesting(route === "sampler" ? "sampler" : undefined);
    const expectNoCgroupLeft = async () => expect(await eventually(() => ownCgroupsLeft().length === 0)).toBe(true);

    test("kills a child that goes over; memoryUsage() then reads 0 now and the peak it reached", async () => {
      use();
      await using proc = owned(spawn([bunPath, "-e", hogFor(1)], { stdio: ["ignore", "ignore", "ignore"], maxMemory: limitFor(1), killSignal: "SIGKILL" }));
      expect(proc._memoryRoute).toBe(route);
      await proc.exited;
      expect(proc.signalCode).toBe("SIGKILL");
      expect(proc.exitedDueToMaxMemory).toBe(true);
      const after = proc.memoryUsage();
      expect(after.current).toBe(0);
      expect(after.peak).toBeGreaterThan(limitFor(1) / 2);
      await expectNoCgroupLeft();
    });

    test("leaves a child under the limit alone", async () => {
      use();
      await expectNoFdLeft(async () => {
        await using proc = owned(spawn([bunPath, "-e", `Buffer.alloc(8 * 1024 * 1024, 1); console.log("ok")`], { stdio: ["ignore", "pipe", "ignore"], maxMemory: 1024 * MB }));
        const [stdout, code] = await Promise.all([proc.stdout.text(), proc.exited]);
        expect(stdout).toBe("ok\n");
        expect(code).toBe(0);
        expect(proc.signalCode).toBeNull();
        expect(proc.exitedDueToMaxMemory).toBe(false);
      });
      await expectNoCgroupLeft();
    });

    test("a kill by the user is not a memory kill", async () => {
      use();
      await using proc = owned(spawn([bunPath, "-e", "setInterval(() => {}, 1000)"], { stdio: ["ignore", "ignore", "ignore"], maxMemory: 1024 * MB }));
      proc.kill("SIGKILL");
      await proc.exited;
      expect(proc.exitedDueToMaxMemory).toBe(false);
      await expectNoCgroupLeft();
    });

    test("counts the grandchildren and kills the whole tree", async () => {
      use();
      const parent = parentOfHog(2);
      await using proc = owned(spawn([bunPath, "-e", parent], { stdio: ["ignore", "pipe", "inherit"], maxMemory: limitFor(2), killSignal: "SIGKILL" }));
      const grandchild = Number(await firstLine(proc.stdout));
      expect(grandchild).toBeGreaterThan(0);
      await proc.exited;
      expect(proc.signalCode).toBe("SIGKILL");
      expect(proc.exitedDueToMaxMemory).toBe(true);
      expect(await gone(grandchild)).toBe(true);
      await expectNoCgroupLeft();
    });

    test(`killSignal: ${route === "cgroup" ? "the kernel kills with SIGKILL whatever it says" : "the sampler sends it"}`, async () => {
      use();
      await using proc = owned(spawn([bunPath, "-e", hogFor(1)], { stdio: ["ignore", "ignore", "ignore"], maxMemory: limitFor(1), killSignal: "SIGTERM" }));
      await proc.exited;
      expect(proc.signalCode).toBe(route === "cgroup" ? "SIGKILL" : "SIGTERM");
      expect(proc.exitedDueToMaxMemory).toBe(true);
    });

    test("memoryUsage() reports the tree, with and without maxMemory", async () => {
      use();
      for (const maxMemory of [undefined, 2048 * MB]) {
        // The child is small; the grandchild holds 128 MB (it ends when its stdin closes, that is
        // when the child dies).
        const grandchild = hog(128) + ` process.stdin.on("close", () => process.exit(0)).resume(); console.log("ready");`;
        const parent = `
          const child = Bun.spawn({ cmd: [process.execPath, "-e", ${JSON.stringify(grandchild)}], stdio: ["pipe", "pipe", "ignore"] });
          for await (const chunk of child.stdout) if (Buffer.from(chunk).includes("ready")) break;
          console.log(child.pid);
          setInterval(() => {}, 1000);`;
        await using proc = owned(spawn([bunPath, "-e", parent], { stdio: ["ignore", "pipe", "inherit"], maxMemory }));
        const grandchildPid = Number(await firstLine(proc.stdout));
        expect(proc._memoryRoute).toBe(maxMemory ? route : undefined);
        const usage = proc.memoryUsage();
        expect(usage.current).toBeGreaterThan(128 * MB);
        expect(usage.peak).toBeGreaterThanOrEqual(usage.current);
        proc.kill("SIGKILL");
        await proc.exited;
        const after = proc.memoryUsage();
        expect(after.current).toBe(0);
        expect(after.peak).toBeGreaterThanOrEqual(usage.peak);
        expect(await gone(grandchildPid)).toBe(true);
      }
      await expectNoCgroupLeft();
    });

    test("spawnSync reports exitedDueToMaxMemory, true and false", () => {
      use();
      const over = spawnSync([bunPath, "-e", hogFor(1)], { stdio: ["ignore", "ignore", "ignore"], maxMemory: limitFor(1), killSignal: "SIGKILL" });
      expect(over).toMatchObject({ exitCode: null, signalCode: "SIGKILL", success: false, exitedDueToMaxMemory: true });
      const under = spawnSync([bunPath, "-e", "1"], { stdio: ["ignore", "ignore", "ignore"], maxMemory: 1024 * MB });
      expect(under).toMatchObject({ exitCode: 0, success: true, exitedDueToMaxMemory: false });
      expect(ownCgroupsLeft()).toEqual([]);
    });

    test("spawnSync: a grandchild's excess ends the whole tree while the JS thread is blocked", async () => {
      use();
      const parent = parentOfHog(2);
      const result = spawnSync([bunPath, "-e", parent], { stderr: "inherit", maxMemory: limitFor(2), killSignal: "SIGKILL" });
      expect(result).toMatchObject({ signalCode: "SIGKILL", exitedDueToMaxMemory: true });
      expect(await gone(Number(result.stdout.toString().split("\n")[0]))).toBe(true);
      await expectNoCgroupLeft();
    });

    test("a descendant whose parent exited is still counted and killed", async () => {
      use();
      // root sh → middle sh → hog. The hog gets the middle's pid and allocates only once that sh
      // has exited (it is then no longer below the root in the process tree).
      const hogSrc = `const middle = Number(process.argv.at(-1)); const timer = setInterval(() => { if (process.ppid !== middle) { clearInterval(timer); ${hogFor(1)} } }, 5);`;
      const middle = `"$0" -e "$1" $$ </dev/null >/dev/null 2>&1 & echo $!; read _`;
      await using proc = owned(spawn(["sh", "-c", `sh -c '${middle}' "$0" "$1"; exec sleep 100000`, bunPath, hogSrc], {
        stdio: ["pipe", "pipe", "inherit"],
        maxMemory: limitFor(1),
        killSignal: "SIGKILL",
      }));
      const hogPid = Number(await firstLine(proc.stdout));
      expect(hogPid).toBeGreaterThan(0);
      // This walk records the hog as one of the tree while its parent still lives.
      expect(proc.memoryUsage().current).toBeGreaterThan(0);
      proc.stdin.write("\n");
      await proc.stdin.flush();
      await proc.exited;
      expect(proc.exitedDueToMaxMemory).toBe(true);
      expect(await gone(hogPid)).toBe(true);
      await expectNoCgroupLeft();
    });

    // Only the sampler sends killSignal, which is what lets the root start a child after the
    // kill; in a cgroup the kernel's SIGKILL leaves it no handler to run (tested above).
    if (route === "sampler") test("a process that starts after the kill is signalled too", async () => {
      use();
      // The root takes SIGTERM and starts one more child; that child does not, and dies only if
      // a later sample finds and signals it. Both end when their stdin closes, so nothing outlives a failure.
      const late = `process.stdin.on("close", () => process.exit(0)).resume();`;
      const root = `
        process.stdin.on("close", () => process.exit(0)).resume();
        process.on("SIGTERM", () => {
          const late = Bun.spawn({ cmd: [process.execPath, "-e", ${JSON.stringify(late)}], stdio: ["pipe", "ignore", "ignore"] });
          console.log(late.pid);
        });
        ${hogFor(2)}`;
      await using proc = owned(spawn([bunPath, "-e", root], { stdio: ["pipe", "pipe", "inherit"], maxMemory: limitFor(2), killSignal: "SIGTERM" }));
      const latePid = Number(await firstLine(proc.stdout));
      expect(latePid).toBeGreaterThan(0);
      expect(await gone(latePid)).toBe(true);
      expect(proc.exitedDueToMaxMemory).toBe(true);
      proc.kill("SIGKILL");
      await proc.exited;
    });

    test("through a container's helper", async () => {
      use();
      await using box = new Container();
      const proc = box.spawn([bunPath, "-e", hogFor(1)], { stdio: ["ignore", "ignore", "ignore"], maxMemory: limitFor(1), killSignal: "SIGKILL" });
      expect(proc._memoryRoute).toBe(route);
      await proc.exited;
      expect(proc.exitedDueToMaxMemory).toBe(true);
      const result = box.spawnSync([bunPath, "-e", hogFor(1)], { stdio: ["ignore", "ignore", "ignore"], maxMemory: limitFor(1), killSignal: "SIGKILL" });
      expect(result.exitedDueToMaxMemory).toBe(true);
      await expectNoCgroupLeft();
    });
  });
}

test.skipIf(!has_cgroup)("a cgroup whose tree outlives its child is removed once empty, or at the program's exit", async () => {
  // The program's child starts a sleeper in the background and exits: the cgroup keeps the
  // sleeper. The program then exits too; the sleeper moves to the program's own cgroup.
  const program = `
    import { spawn } from ${JSON.stringify(new URL("../src/index.ts", import.meta.url).pathname)};
    import { ownCgroupsLeft } from ${JSON.stringify(new URL("../src/memory.ts", import.meta.url).pathname)};
    const proc = spawn(["sh", "-c", "sleep 1000 </dev/null >/dev/null 2>&1 & echo $!"], { maxMemory: 1024 * 1024 * 1024 });
    const pid = (await proc.stdout.text()).trim();
    await proc.exited;
    console.log(JSON.stringify({ pid: Number(pid), left: ownCgroupsLeft(), cgroup: require("fs").readFileSync("/proc/" + pid + "/cgroup", "utf8") }));`;
  const run = spawnSync([bunPath, "-e", program], { stderr: "inherit" });
  const report = JSON.parse(run.stdout.toString()) as { pid: number; left: string[]; cgroup: string };
  try {
    expect(run.exitCode).toBe(0);
    expect(report.left.length).toBe(1);
    expect(report.cgroup).toContain(report.left[0]!);
    const parent = memoryCgroupParent()!;
    expect(existsSync(join(parent.dir, report.left[0]!))).toBe(false);
    expect(readFileSync(`/proc/${report.pid}/cgroup`, "utf8")).not.toContain("forkless-");
  } finally {
    process.kill(report.pid, "SIGKILL");
  }
  expect(await gone(report.pid)).toBe(true);
});

test("under the preload, Bun.spawn takes maxMemory; Bun 1.4.5 has no Bun.spawnAndWait and the preload adds none", () => {
  const program = `
    const proc = Bun.spawnSync([process.execPath, "-e", ${JSON.stringify(hog(256))}], { stdio: ["ignore", "ignore", "ignore"], maxMemory: 128 * 1024 * 1024, killSignal: "SIGKILL" });
    console.log(JSON.stringify({ forkless: Bun.spawn.forkless === true, exitedDueToMaxMemory: proc.exitedDueToMaxMemory, spawnAndWait: typeof Bun.spawnAndWait }));`;
  const preload = new URL("../src/global.ts", import.meta.url).pathname;
  const run = spawnSync([bunPath, "--preload", preload, "-e", program], { stderr: "inherit" });
  expect(JSON.parse(run.stdout.toString())).toEqual({ forkless: true, exitedDueToMaxMemory: true, spawnAndWait: typeof (Bun as { spawnAndWait?: unknown }).spawnAndWait });
});
