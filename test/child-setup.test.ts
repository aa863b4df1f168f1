// The child-setup options: uid, gid, cgroup (Bun 1.4.5 has them: compared with Bun.spawn),
// deathSignal and killTree (Bun's main branch: its documented semantics and messages), rlimits
// and the open-files default (forkless only). Everything the child reports comes from the kernel
// (/proc, id), and every wait ends on an event (EOF, exit), never on a clock.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawn, spawnSync } from "../src/index.ts";
import { enterProjectRoot, isAlive, readProc, thrownBy, worldReadableProject, type AnySpawn } from "./oracle.ts";
import { eventually } from "./wait.ts";

// A guard against hangs, not a timing assert (bun 1.4.5 ignores bunfig's [test] timeout).
setDefaultTimeout(30_000);
beforeAll(enterProjectRoot);

const bun = process.execPath;
const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;
const isRoot = process.getuid!() === 0;
const hasSetpriv = existsSync("/usr/bin/setpriv");

/** Runs `cmd` through spawnSync-shaped `run` and returns its stdout as text. */
function output(run: AnySpawn, cmd: string[], options: object = {}): string {
  const result = run(cmd, options);
  expect(result.exitCode).toBe(0);
  return result.stdout.toString();
}

/** The same through spawn-shaped `run`. */
async function outputAsync(run: AnySpawn, cmd: string[], options: object = {}): Promise<string> {
  const child = run(cmd, { ...options, stdout: "pipe" });
  const text = await new Response(child.stdout).text();
  expect(await child.exited).toBe(0);
  return text;
}

/** Reads a stream line by line; `next()` is the next complete line, `rest()` all until EOF. */
function lines(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  return {
    async next(): Promise<string> {
      while (!buffered.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`EOF before a line; had ${JSON.stringify(buffered)}`);
        buffered += decoder.decode(value, { stream: true });
      }
      const at = buffered.indexOf("\n");
      const line = buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
      return line;
    },
    async rest(): Promise<string> {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return buffered;
        buffered += decoder.decode(value, { stream: true });
      }
    },
  };
}

const identity = ["/bin/sh", "-c", "id -u; id -g; grep '^Groups:' /proc/self/status"];

// ---------------------------------------------------------------------------------------------

describe.skipIf(!isRoot)("uid and gid", () => {
  for (const options of [{ uid: 65534 }, { gid: 65534 }, { uid: 65534, gid: 65534 }, { uid: 0, gid: 0 }]) {
    test(`${JSON.stringify(options)}: the same ids as Bun.spawnSync and Bun.spawn`, async () => {
      const bunSync = output(Bun.spawnSync as AnySpawn, identity, options);
      expect(output(spawnSync as AnySpawn, identity, options)).toBe(bunSync);
      expect(await outputAsync(spawn as AnySpawn, identity, options)).toBe(await outputAsync(Bun.spawn as AnySpawn, identity, options));
      // And the ids are the ones asked for (so the comparison above cannot pass vacuously).
      const [uid, gid] = bunSync.split("\n");
      expect(Number(uid)).toBe(options.uid ?? 0);
      expect(Number(gid)).toBe(options.gid ?? 0);
    });
  }

  test.skipIf(!hasSetpriv)("supplementary groups: the parent's are dropped, as by Bun", () => {
    const run = Bun.spawnSync(["setpriv", "--groups", "10,20", bun, fixture("child-setup-identity.ts"), "groups"], { stderr: "inherit" });
    const report = JSON.parse(run.stdout.toString());
    for (const form of ["spawn", "spawnSync"]) {
      for (const name of ["uid", "gid", "both"]) {
        expect({ name, form, got: report[`forkless ${name} ${form}`] }).toEqual({ name, form, got: report[`bun ${name} ${form}`] });
      }
      // The parent (setpriv) has groups 10 and 20; a child with a new uid or gid has none.
      expect(report[`forkless uid ${form}`].stdout).toBe("65534\n0\nGroups:\t \n");
      expect(report[`forkless gid ${form}`].stdout).toBe("0\n65534\nGroups:\t \n");
    }
  });

  test.skipIf(!hasSetpriv)("without permission: the same EPERM error as Bun, from spawn and spawnSync", () => {
    const cgroup = cgroupRoot ? `${cgroupRoot}/forkless-test-denied-${process.pid}` : "/";
    if (cgroupRoot) mkdirSync(cgroup);
    // nobody may not be able to enter the checkout (a clone in a private directory): give it a copy.
    const shared = worldReadableProject(["child-setup-identity.ts"]);
    try {
      const run = Bun.spawnSync(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", shared.bun, shared.fixture("child-setup-identity.ts"), "denied", cgroup],
        { stderr: "pipe", cwd: "/" },
      );
      expect({ exitCode: run.exitCode, stderr: run.stderr.toString() }).toEqual({ exitCode: 0, stderr: "" });
      const report = JSON.parse(run.stdout.toString());
      for (const form of ["spawn", "spawnSync"]) {
        for (const name of ["uid0", "gid0", "own"]) {
          expect({ name, form, got: report[`forkless ${name} ${form}`] }).toEqual({ name, form, got: report[`bun ${name} ${form}`] });
        }
      }
      expect(report["forkless uid0 spawnSync"]).toMatchObject({ code: "EPERM", syscall: "posix_spawn", errno: -1 });
      expect(report["forkless own spawnSync"]).toMatchObject({ exitCode: 0, stdout: "65534\n65534\nGroups:\t \n" });
      // Joining a cgroup nobody may write to: Bun's clone3 error naming the path (spawn).
      if (cgroupRoot) {
        expect(report["forkless cgroup spawn"]).toEqual(report["bun cgroup spawn"]);
        expect(report["forkless cgroup spawn"]).toMatchObject({ code: "EACCES", syscall: "clone3", path: cgroup });
      }
    } finally {
      shared.dispose();
      if (cgroupRoot) rmdirSync(cgroup);
    }
  });
});

describe("uid and gid: bad values throw what Bun throws", () => {
  const values: unknown[] = ["x", 1.5, 2 ** 31, -(2 ** 31) - 1, 1e21, Infinity, -Infinity, true, 10n, {}, [], -1, NaN, null];
  for (const name of ["uid", "gid"]) {
    test(name, () => {
      let compared = 0;
      for (const value of values) {
        const options = { [name]: value };
        const bunShape = thrownBy(() => Bun.spawnSync(["true"], options));
        expect({ value: String(value), shape: thrownBy(() => spawnSync(["true"], options)) }).toEqual({ value: String(value), shape: bunShape });
        expect({ value: String(value), shape: thrownBy(() => spawn(["true"], options)) }).toEqual({
          value: String(value),
          shape: thrownBy(() => Bun.spawn(["true"], options)),
        });
        if (bunShape !== "returned") compared++;
      }
      expect(compared).toBeGreaterThanOrEqual(10);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// cgroup: a v2 directory made for the test under a writable cgroup2 mount, when there is one.

const cgroupRoot = (() => {
  const mount = readFileSync("/proc/self/mounts", "utf8").split("\n").find((line) => line.split(" ")[2] === "cgroup2");
  const dir = mount?.split(" ")[1];
  if (!dir || !isRoot) return undefined;
  try {
    const probe = `${dir}/forkless-test-probe-${process.pid}`;
    mkdirSync(probe);
    rmdirSync(probe);
    return dir;
  } catch {
    return undefined;
  }
})();
const v1Pids = isRoot && existsSync("/sys/fs/cgroup/pids/cgroup.procs") ? "/sys/fs/cgroup/pids" : undefined;

describe.skipIf(!cgroupRoot)("cgroup (v2)", () => {
  const dir = `${cgroupRoot}/forkless-test-${process.pid}`;
  const relative = dir.slice(cgroupRoot!.length);
  beforeAll(() => mkdirSync(dir));
  afterAll(() => rmdirSync(dir));
  const cgroupLine = ["/bin/sh", "-c", "grep '^0::' /proc/self/cgroup"];

  test("path and fd: the child runs in the cgroup, as with Bun", async () => {
    const fd = openSync(dir, "r");
    try {
      for (const cgroup of [dir, fd]) {
        const bunSync = output(Bun.spawnSync as AnySpawn, cgroupLine, { cgroup });
        expect(bunSync).toBe(`0::${relative}\n`);
        expect(output(spawnSync as AnySpawn, cgroupLine, { cgroup })).toBe(bunSync);
        expect(await outputAsync(spawn as AnySpawn, cgroupLine, { cgroup })).toBe(bunSync);
      }
      // Without the option the child stays where we are.
      expect(output(spawnSync as AnySpawn, cgroupLine)).not.toBe(`0::${relative}\n`);
    } finally {
      closeSync(fd);
    }
  });

  test("it is in the cgroup before it runs: in cgroup.procs when spawn() returns, even frozen", async () => {
    // A frozen cgroup runs nothing: a child that joined by writing cgroup.procs after the fork
    // would have to run to get there. With CLONE_INTO_CGROUP it is born inside, frozen.
    writeFileSync(`${dir}/cgroup.freeze`, "1");
    const child = spawn(["/bin/echo", "thawed"], { cgroup: dir, stdout: "pipe" });
    try {
      expect(readFileSync(`${dir}/cgroup.procs`, "utf8").split("\n")).toContain(String(child.pid));
    } finally {
      writeFileSync(`${dir}/cgroup.freeze`, "0");
    }
    expect(await new Response(child.stdout).text()).toBe("thawed\n");
    expect(await child.exited).toBe(0);
  });

  test("a cgroup that does not exist, a file, a bad fd, bad types: Bun's errors", () => {
    const values: unknown[] = [`${dir}/nope`, "", "relative-nope", "/etc/passwd", 99999, -1, 1.5, NaN, 2 ** 31, true, {}, null];
    for (const cgroup of values) {
      const bunShape = thrownBy(() => Bun.spawnSync(["true"], { cgroup: cgroup as any }));
      expect({ cgroup, shape: thrownBy(() => spawnSync(["true"], { cgroup: cgroup as never })) }).toEqual({ cgroup, shape: bunShape });
      expect({ cgroup, shape: thrownBy(() => spawn(["true"], { cgroup: cgroup as never })) }).toEqual({
        cgroup,
        shape: thrownBy(() => Bun.spawn(["true"], { cgroup: cgroup as any })),
      });
    }
    expect(thrownBy(() => spawn(["true"], { cgroup: `${dir}/nope` }))).toMatchObject({ code: "ENOENT", syscall: "open", path: `${dir}/nope` });
    expect(thrownBy(() => spawn(["true"], { cgroup: 99999 }))).toMatchObject({ code: "EBADF", syscall: "fcntl", ownKeys: ["code", "fd", "syscall", "errno"] });
  });

  test("a directory that is no cgroup: Bun's clone3 error naming it", () => {
    const shape = thrownBy(() => spawn(["true"], { cgroup: "/tmp" }));
    expect(shape).toEqual(thrownBy(() => Bun.spawn(["true"], { cgroup: "/tmp" })));
    expect(shape).toMatchObject({ code: "ENOENT", syscall: "clone3", path: "/tmp" });
    expect(thrownBy(() => spawnSync(["true"], { cgroup: "/tmp" }))).toEqual(thrownBy(() => Bun.spawnSync(["true"], { cgroup: "/tmp" })));
  });
});

describe("cgroup: a directory outside cgroupfs", () => {
  test("the child writes itself into its cgroup.procs, the same bytes as Bun's child", async () => {
    // Bun's own spawn test (spawn-cgroup.test.ts) reads the file back: "0", no newline.
    const written: Record<string, string> = {};
    for (const [name, run] of [["bun", Bun.spawn], ["forkless", spawn]] as const) {
      const dir = `${tmpdir()}/forkless-cgroup-${process.pid}-${name}`;
      mkdirSync(dir);
      try {
        writeFileSync(`${dir}/cgroup.procs`, "");
        expect(await (run as AnySpawn)(["true"], { cgroup: dir }).exited).toBe(0);
        written[name] = readFileSync(`${dir}/cgroup.procs`, "utf8");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    expect(written.forkless).toBe(written.bun!);
    expect(written.bun).toBe("0");
  });
});

describe.skipIf(!v1Pids)("cgroup (v1 hierarchy)", () => {
  test("the child joins a v1 cgroup too, as with Bun", () => {
    const dir = `${v1Pids}/forkless-test-${process.pid}`;
    mkdirSync(dir);
    try {
      const line = ["/bin/sh", "-c", "grep ':pids:' /proc/self/cgroup"];
      const bunSync = output(Bun.spawnSync as AnySpawn, line, { cgroup: dir });
      expect(bunSync).toContain(`:pids:/forkless-test-${process.pid}`);
      expect(output(spawnSync as AnySpawn, line, { cgroup: dir })).toBe(bunSync);
    } finally {
      rmdirSync(dir);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// deathSignal (Bun's main branch): validated like killSignal, 0 refused; PR_SET_PDEATHSIG.

describe("deathSignal", () => {
  test("bad values: the errors Bun gives the same signal values (its killSignal rules; 0 is ERR_UNKNOWN_SIGNAL)", () => {
    const values: unknown[] = ["NOPE", "sigkill", "SIGRTMIN", -1, 0, 1.5, 32, Infinity, {}, true];
    for (const value of values) {
      const bunShape = thrownBy(() => Bun.spawnSync(["true"], { killSignal: value as any }));
      expect(bunShape).not.toBe("returned");
      expect({ value, shape: thrownBy(() => spawnSync(["true"], { deathSignal: value as never })) }).toEqual({ value, shape: bunShape });
      expect({ value, shape: thrownBy(() => spawn(["true"], { deathSignal: value as never })) }).toEqual({ value, shape: bunShape });
    }
    expect(thrownBy(() => spawn(["true"], { deathSignal: "NOPE" }))).toMatchObject({ code: "ERR_INVALID_ARG_TYPE" });
    expect(thrownBy(() => spawn(["true"], { deathSignal: -1 }))).toMatchObject({ message: "Invalid signal: must be >= 0" });
    expect(thrownBy(() => spawn(["true"], { deathSignal: 0 }))).toMatchObject({ code: "ERR_UNKNOWN_SIGNAL", message: "Unknown signal: 0" });
  });

  for (const mode of isRoot ? ["death", "death-uid"] : ["death"]) {
    test(`${mode}: the parent is SIGKILLed, the child gets SIGTERM`, async () => {
      // The child inherits the fixture's stdout: EOF means the fixture and the child are gone.
      const parent = Bun.spawn([bun, fixture("child-setup-parent.ts"), mode], { stdout: "pipe", stderr: "inherit" });
      const out = lines(parent.stdout);
      const childPid = Number(await out.next());
      expect(isAlive(childPid)).toBe(true);
      parent.kill("SIGKILL");
      expect(await out.rest()).toBe("got-TERM\n");
      await parent.exited;
      expect(parent.signalCode).toBe("SIGKILL");
    });
  }

  test("control: without deathSignal the child outlives its parent", async () => {
    const parent = Bun.spawn([bun, fixture("child-setup-parent.ts"), "none"], { stdout: "pipe", stderr: "inherit" });
    const out = lines(parent.stdout);
    const childPid = Number(await out.next());
    parent.kill("SIGKILL");
    await parent.exited;
    expect(isAlive(childPid)).toBe(true);
    process.kill(childPid, "SIGTERM");
    expect(await out.rest()).toBe("got-TERM\n");
  });

  test("a child spawned from a Worker survives the Worker's exit, and dies with the process", async () => {
    // Linux would signal it when the Worker's thread exits; forkless clones it from a thread that
    // lives as long as the process (launch.zig, `launcher`).
    const parent = Bun.spawn([bun, fixture("child-setup-worker-parent.ts")], { stdout: "pipe", stderr: "inherit" });
    const out = lines(parent.stdout);
    const childPid = Number(await out.next());
    expect(await out.next()).toBe("worker-gone");
    // The Worker's thread has exited, so a death signal tied to it has been sent by now: the
    // child would be gone, or have SIGKILL pending (bit 9 of SigPnd/ShdPnd).
    expect(isAlive(childPid)).toBe(true);
    const pending = readProc(childPid, "status").split("\n").filter((l) => /^(SigPnd|ShdPnd):/.test(l));
    for (const line of pending) expect(BigInt(`0x${line.split(":")[1]!.trim()}`) & (1n << 8n)).toBe(0n);
    // Now the process dies: the child with it (EOF: nothing holds the pipe any more).
    parent.kill("SIGKILL");
    expect(await out.rest()).toBe("");
    expect(await stillAlive(childPid)).toBe(false);
  });

  test("a child spawned from the main thread survives the exit of an unrelated Worker thread", async () => {
    const child = spawn(["/bin/sh", "-c", "echo ready; while :; do sleep 1 >/dev/null & wait $!; done"], { deathSignal: "SIGKILL", stdout: "pipe" });
    const out = lines(child.stdout!);
    expect(await out.next()).toBe("ready");
    const worker = new Worker(fixture("child-setup-worker.ts"));
    const task: string = await new Promise((resolve) => (worker.onmessage = (event) => resolve(event.data)));
    await new Promise((resolve) => {
      worker.addEventListener("close", resolve);
      worker.terminate();
    });
    // The Worker's thread exits a moment after its "close" event: wait for its task to be gone.
    // A death signal tied to that thread was sent by then.
    expect(await eventually(() => !existsSync(`/proc/${task}`))).toBe(true);
    // So a SIGKILL sent by that exit would end the child before our SIGTERM could.
    child.kill("SIGTERM");
    await child.exited;
    expect(child.signalCode).toBe("SIGTERM");
  });
});

// ---------------------------------------------------------------------------------------------
// The open-files limit and rlimits (forkless only).

function limitsOf(text: string, resource: string): [string, string] {
  const line = text.split("\n").find((l) => l.startsWith(resource))!;
  const [soft, hard] = line.slice(26).trim().split(/\s+/);
  return [soft!, hard!];
}
const catLimits = ["cat", "/proc/self/limits"];

describe("rlimits", () => {
  test("default: a raised soft RLIMIT_NOFILE comes back down to 1024 (Bun passes its raised one on)", async () => {
    const [ourSoft, ourHard] = limitsOf(readFileSync("/proc/self/limits", "utf8"), "Max open files");
    const bunChild = limitsOf(output(Bun.spawnSync as AnySpawn, catLimits), "Max open files");
    expect(bunChild).toEqual([ourSoft, ourHard]);
    const want: [string, string] = Number(ourSoft) > 1024 ? ["1024", ourHard] : [ourSoft, ourHard];
    expect(limitsOf(output(spawnSync as AnySpawn, catLimits), "Max open files")).toEqual(want);
    expect(limitsOf(await outputAsync(spawn as AnySpawn, catLimits), "Max open files")).toEqual(want);
  });

  test("explicit limits, for spawn and spawnSync", async () => {
    const [, hard] = limitsOf(readFileSync("/proc/self/limits", "utf8"), "Max open files");
    const cases: [object, string, [string, string]][] = [
      [{ nofile: 300, core: 0 }, "Max open files", ["300", "300"]],
      [{ nofile: 300, core: 0 }, "Max core file size", ["0", "0"]],
      [{ nofile: { soft: 500 } }, "Max open files", ["500", hard!]],
      [{ nofile: {} }, "Max open files", limitsOf(readFileSync("/proc/self/limits", "utf8"), "Max open files")],
      [{ cpu: { soft: 100, hard: Infinity } }, "Max cpu time", ["100", "unlimited"]],
    ];
    for (const [rlimits, resource, want] of cases) {
      expect({ rlimits, got: limitsOf(output(spawnSync as AnySpawn, catLimits, { rlimits }), resource) }).toEqual({ rlimits, got: want });
      expect({ rlimits, got: limitsOf(await outputAsync(spawn as AnySpawn, catLimits, { rlimits }), resource) }).toEqual({ rlimits, got: want });
    }
  });

  test("bad values are refused before anything runs", () => {
    const bad: [unknown, string, string][] = [
      [{ files: 5 }, "ERR_INVALID_ARG_VALUE", `unknown limit 'files'`],
      [{ nofile: -1 }, "ERR_INVALID_ARG_TYPE", `"options.rlimits.nofile" property must be`],
      [{ nofile: 1.5 }, "ERR_INVALID_ARG_TYPE", `"options.rlimits.nofile" property must be`],
      [{ nofile: "1024" }, "ERR_INVALID_ARG_TYPE", `"options.rlimits.nofile" property must be`],
      [{ nofile: { soft: 10, max: 5 } }, "ERR_INVALID_ARG_TYPE", `"options.rlimits.nofile" property must be`],
      [{ nofile: { soft: 10, hard: 5 } }, "ERR_OUT_OF_RANGE", `"options.rlimits.nofile.soft" is out of range`],
      [5, "ERR_INVALID_ARG_TYPE", `"options.rlimits" property must be an object`],
    ];
    for (const [rlimits, code, message] of bad) {
      for (const run of [spawn, spawnSync] as AnySpawn[]) {
        const shape = thrownBy(() => run(["true"], { rlimits }));
        expect({ rlimits, code: (shape as any).code }).toEqual({ rlimits, code });
        expect((shape as any).message).toContain(message);
      }
    }
  });

  test.skipIf(!isRoot)("a limit the kernel refuses: a posix_spawn error like any launch failure", () => {
    // Above fs.nr_open, even root cannot raise RLIMIT_NOFILE.
    const nrOpen = Number(readFileSync("/proc/sys/fs/nr_open", "utf8"));
    const shape = thrownBy(() => spawnSync(["true"], { rlimits: { nofile: nrOpen + 1 } }));
    expect(shape).toMatchObject({ code: "EPERM", syscall: "posix_spawn", path: "true" });
  });
});

// ---------------------------------------------------------------------------------------------
// killTree (Bun's main branch): stop → verify → signal → continue.

/** A tree: sh (root) → a stopped `sleep`, a subshell with a `sleep`, and a double fork inside a
 * pid namespace whose middle process exits, so its `sleep 1002` is reparented to the namespace's
 * init (`sleep 1003`, a reaper inside our tree). Each keeps our stdout pipe: EOF = all gone. */
const treeScript = [
  "sleep 1000 & S=$!; kill -STOP $S",
  "(sleep 1001 & wait) & B=$!",
  "unshare --fork --pid /bin/sh -c '(sleep 1002 &); echo ns; exec sleep 1003' & U=$!",
  "echo $S $B $U",
  "wait",
].join("\n");
const canUnshare = isRoot && existsSync("/usr/bin/unshare");

/** Runs `body` on a fresh tree; whatever of the tree is left afterwards (a failed assertion) is
 * SIGKILLed by pid, so no process keeps the runner's stderr open. */
async function withTree(body: (tree: Awaited<ReturnType<typeof startTree>>) => Promise<void>): Promise<void> {
  const tree = await startTree();
  const all = [tree.child.pid, ...descendants(tree.child.pid)];
  try {
    await body(tree);
  } finally {
    for (const pid of [...all, ...descendants(tree.child.pid)]) {
      try {
        if (isAlive(pid)) process.kill(pid, "SIGKILL");
      } catch {}
    }
  }
}

async function startTree() {
  const script = canUnshare ? treeScript : treeScript.replace(/^unshare.*\n/m, "U=0\n");
  // stderr is captured: a shell reports a job killed by a signal there ("Terminated", "Killed").
  const child = spawn(["/bin/sh", "-c", script], { stdout: "pipe", stderr: "pipe" });
  const out = lines(child.stdout!);
  const first = await out.next();
  const ids = (first === "ns" ? await out.next() : first).split(" ").map(Number);
  if (canUnshare && first !== "ns") expect(await out.next()).toBe("ns");
  return { child, out, stopped: ids[0]!, subshell: ids[1]! };
}

/** Every descendant of `pid` now, as the kernel lists them (our own walk, not kill-tree.ts's). */
function descendants(pid: number): number[] {
  const all: number[] = [];
  const walk = (p: number) => {
    for (const task of tasksOf(p)) {
      for (const c of readProc(p, `task/${task}/children`).split(" ").filter(Boolean).map(Number)) {
        all.push(c);
        walk(c);
      }
    }
  };
  walk(pid);
  return all;
}
/** A dying process closes its files (our EOF) a moment before it turns zombie: wait for that
 * transition, boundedly, and say whether the process is still alive after it. */
async function stillAlive(pid: number): Promise<boolean> {
  return !(await eventually(() => !isAlive(pid)));
}

function tasksOf(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
}

describe("killTree", () => {
  test("every descendant gets the signal: stopped, in a subshell, double-forked under a subreaper", () => withTree(async ({ child, out, stopped }) => {
    // The subshell forks its sleep on its own time, and SIGSTOP lands when the sleep next runs.
    const size = canUnshare ? 6 : 3;
    expect(await eventually(() => descendants(child.pid).length === size)).toBe(true);
    expect(await eventually(() => /\) T /.test(readProc(stopped, "stat")))).toBe(true);
    const tree = descendants(child.pid);
    expect(tree).toContain(stopped);
    // SIGKILL: a pid namespace's init (sleep 1003) ignores SIGTERM from outside, as does
    // `unshare --fork` while it waits for it; the catchable case has its own test below.
    child.killTree("SIGKILL");
    expect(await child.exited).toBe(128 + 9);
    expect(child.signalCode).toBe("SIGKILL");
    expect(await out.rest()).toBe(""); // EOF: nothing holds the pipe any more
    for (const pid of tree) expect({ pid, alive: await stillAlive(pid) }).toEqual({ pid, alive: false });
  }));

  test("contrast: kill() reaches only the child; the rest of the tree lives on", () => withTree(async ({ child, out }) => {
    const tree = descendants(child.pid);
    child.kill("SIGKILL");
    await child.exited;
    expect(tree.filter(isAlive).length).toBe(tree.length);
    for (const pid of tree) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    await out.rest();
  }));

  test("a catchable signal is acted on (the tree is continued after it)", async () => {
    const child = spawn(["/bin/sh", "-c", `/bin/sh -c 'trap "echo caught; exit 3" TERM; echo up; while :; do sleep 1 >/dev/null & wait $!; done' & wait`], { stdout: "pipe", stderr: "pipe" });
    const out = lines(child.stdout!);
    expect(await out.next()).toBe("up");
    child.killTree("SIGTERM");
    expect(await out.rest()).toBe("caught\n");
    await child.exited;
  });

  test("killTree(0) pauses nothing; SIGSTOP stops the whole tree and SIGCONT resumes it", () => withTree(async ({ child, out }) => {
    const stat = (pid: number) => readProc(pid, "stat").replace(/^.*\) (\S).*$/s, "$1");
    const size = 1 + (canUnshare ? 6 : 3);
    // Only the sleep the script stopped is stopped, once the tree is whole and that stop landed.
    expect(await eventually(() => {
      const now = [child.pid, ...descendants(child.pid)];
      return now.length === size && now.filter((pid) => stat(pid) === "T").length === 1;
    })).toBe(true);
    const tree = [child.pid, ...descendants(child.pid)];
    const states = () => tree.map(stat);
    try {
      child.killTree(0);
      expect(states().filter((s) => s === "T").length).toBe(1);
      child.killTree("SIGSTOP");
      expect(states()).toEqual(tree.map(() => "T"));
      child.killTree("SIGCONT");
      for (const state of states()) expect(state).toMatch(/^[RSD]$/);
    } finally {
      child.killTree("SIGKILL");
      await out.rest();
    }
    await child.exited;
    expect(child.signalCode).toBe("SIGKILL");
  }));

  test("validation as kill(); a no-op once the child has ended", async () => {
    const child = spawn(["sleep", "1000"]);
    for (const signal of [-1, 32, 1.5, "NOT_A_SIGNAL", {}] as any[]) {
      expect(thrownBy(() => child.killTree(signal))).toEqual(thrownBy(() => child.kill(signal)));
    }
    expect(child.killTree.length).toBe(1);
    expect(child.killed).toBe(false);
    child.killTree();
    await child.exited;
    expect(() => child.killTree("SIGKILL")).not.toThrow();
    expect(child.signalCode).toBe("SIGTERM");
  });
});
