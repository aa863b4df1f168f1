// The container: children launched through a helper process. What a user can observe: when the
// program dies by any means, nothing of its tree survives it (double-forked daemons included);
// children get exactly their fds; the helper's loss is reported, not hidden; and a spawn through
// a container looks exactly like a direct one (Bun.spawn is the oracle).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, mkdtempSync, writeFileSync, chmodSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Container, spawn, spawnSync } from "../src/index.ts";
import { defaultContainer, spawnIn, spawnSyncIn } from "../src/container.ts";
import { normalizeSpawn } from "../src/options.ts";
import { bunPath, enterProjectRoot, errorShape, fixturesDir, isAlive, parseStat, parseFdListing, listFdsCommand, runFixture } from "./oracle.ts";
import { eventually, settleMs } from "./wait.ts";

setDefaultTimeout(120_000);
beforeAll(enterProjectRoot);

/** How long the poll for a gone tree waits: a hang guard on a loaded machine, not a speed goal
 * (the tree normally goes within milliseconds: the helper's death signal, then its SIGKILLs). */
const tree_bound_ms = settleMs;

/** Every process whose parent chain reaches `root` (root excluded), from one /proc snapshot. */
function descendantsOf(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = parseStat(readFileSync(`/proc/${entry}/stat`, "latin1"));
      if (stat.state !== "Z") parent.set(stat.pid, stat.ppid);
    } catch {}
  }
  const found: number[] = [];
  for (const pid of parent.keys()) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === root) {
        found.push(pid);
        break;
      }
    }
  }
  return found;
}

/** Live processes whose command line holds `marker`. */
function markedProcesses(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "latin1").includes(marker) && isAlive(Number(entry))) found.push(Number(entry));
    } catch {}
  }
  return found;
}

/** Polls until none of `pids` is alive or the bound passes; returns the survivors. */
async function survivorsAfter(pids: number[], bound_ms: number, marker?: string): Promise<number[]> {
  const alive = () => [...new Set([...pids.filter(isAlive), ...(marker ? markedProcesses(marker) : [])])];
  await eventually(() => alive().length === 0, bound_ms);
  return alive();
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return text.slice(0, text.indexOf("\n"));
}

describe("when the program dies, its whole tree dies with it", () => {
  for (const [how, mode, signal] of [
    ["SIGKILL", "wait", "SIGKILL"],
    ["SIGTERM", "wait", "SIGTERM"],
    ["process.exit()", "exit", null],
    ["an uncaught exception", "throw", null],
  ] as const) {
    test(`after ${how}: a shell loop, a setsid child and a double-forked daemon are gone`, async () => {
      const marker = `forkless-tree-${process.pid}-${mode}-${Date.now()}`;
      const program = Bun.spawn([bunPath, `${fixturesDir}container-tree.ts`, mode, marker], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      const report = JSON.parse(await firstLine(program.stdout)) as { helper: number; pids: number[] };
      // The loop's `sleep 0.05`s come and go: only the long-lived members must be alive now; the
      // passing ones are in `tree` for the check that nothing survives (plus the marker).
      expect([report.helper, ...report.pids].every(isAlive)).toBe(true);
      const tree = [report.helper, ...report.pids, ...descendantsOf(report.helper)];
      // The daemon's parent exited at once: the helper (a subreaper) adopted it.
      expect(parseStat(readFileSync(`/proc/${report.pids[2]}/stat`, "latin1")).ppid).toBe(report.helper);
      if (signal) program.kill(signal);
      else program.stdin.write("go\n"), await program.stdin.flush();
      await program.exited;
      expect(program.signalCode).toBe(signal);
      expect(await survivorsAfter(tree, tree_bound_ms, marker)).toEqual([]);
    });
  }
});

describe("exact fds through the helper", () => {
  test("an inheritable fd of the program never reaches a child or the helper; extra slots arrive at their numbers", async () => {
    const run = await runFixture("container-inherit.ts", []);
    const seen = JSON.parse(run.stdout);
    expect(seen.held).toBe(0); // fd 9 really is inheritable in the program
    for (const mode of ["async", "sync"]) {
      expect(seen[`${mode}-standard`].map((e: { fd: number }) => e.fd)).toEqual([0, 1, 2]);
      expect(seen[`${mode}-slot5`].map((e: { fd: number }) => e.fd)).toEqual([0, 1, 2, 5]);
      expect(seen[`${mode}-slot5`][3].target).toBe(seen.stderrTarget);
    }
    expect(seen.helper).not.toContain("/etc/passwd");
  });

  test("relative paths and the default cwd are the program's current directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "forkless-container-"));
    writeFileSync(join(dir, "hello.sh"), "#!/bin/sh\npwd\n");
    chmodSync(join(dir, "hello.sh"), 0o755);
    await using container = new Container();
    container.spawnSync(["true"]); // the helper starts here, in the project root
    try {
      process.chdir(dir);
      const child = container.spawn(["./hello.sh"], { stdout: "pipe" });
      expect(await (child.stdout as ReadableStream).text()).toBe(`${dir}\n`);
      expect(container.spawnSync(["pwd"], { cwd: "." }).stdout!.toString()).toBe(`${dir}\n`);
    } finally {
      enterProjectRoot();
      rmSync(dir, { recursive: true });
    }
  });
});

describe("one helper under load, and its loss", () => {
  test("200 concurrent spawns through one helper: every exit status right", async () => {
    await using container = new Container();
    const children = Array.from({ length: 200 }, (_, i) => container.spawn(["sh", "-c", `exit ${i % 97}`]));
    const helper = container.helperPid;
    const codes = await Promise.all(children.map((c) => c.exited));
    expect(codes).toEqual(children.map((_, i) => i % 97));
    expect(children.map((c) => c.exitCode)).toEqual(codes);
    expect(container.helperPid).toBe(helper);
    expect(container.pids).toEqual([]);
  });

  test("the helper killed mid-flight: its children resolve as SIGKILLed with a clear error, and the next spawn gets a fresh helper", async () => {
    await using container = new Container();
    const errors: (Error | undefined)[] = [];
    const children = Array.from({ length: 5 }, () =>
      container.spawn(["sleep", "1000"], { onExit: (_p: unknown, _c: unknown, _s: unknown, error?: Error) => { errors.push(error); } }),
    );
    const helper = container.helperPid!;
    expect(container.pids.sort()).toEqual(children.map((c) => c.pid).sort());
    process.kill(helper, "SIGKILL");
    expect(await Promise.all(children.map((c) => c.exited))).toEqual([137, 137, 137, 137, 137]);
    expect(children.map((c) => [c.signalCode, c.exitCode, c.killed])).toEqual(Array(5).fill(["SIGKILL", null, true]));
    await Bun.sleep(0);
    expect(errors.map((e) => (e as { code?: string } | undefined)?.code)).toEqual(Array(5).fill("ERR_FORKLESS_CONTAINER_LOST"));
    expect(errors[0]!.message).toContain(`helper process (pid ${helper}) died`);
    expect(await survivorsAfter(children.map((c) => c.pid), tree_bound_ms)).toEqual([]);

    const next = container.spawn(["sh", "-c", "exit 5"]);
    expect(await next.exited).toBe(5);
    expect(container.helperPid).not.toBe(helper);
    expect(container.spawnSync(["sh", "-c", "exit 6"]).exitCode).toBe(6);
  });

  test("killAll signals the whole tree, grandchildren included", async () => {
    await using container = new Container();
    const child = container.spawn(["sh", "-c", "sleep 1000 & wait"]);
    const grandchildren = () => descendantsOf(container.helperPid!).filter((p) => p !== child.pid);
    expect(await eventually(() => grandchildren().length === 1)).toBe(true);
    const tree = grandchildren();
    container.killAll("SIGKILL");
    expect(await child.exited).toBe(137);
    expect(await survivorsAfter(tree, tree_bound_ms)).toEqual([]);
  });

  test("close() ends the tree, escalating to SIGKILL after graceMs for what ignores SIGTERM", async () => {
    const container = new Container({ graceMs: 60_000 });
    // The shell says when it ignores SIGTERM (a SIGTERM before its trap would end it politely).
    const stubborn = container.spawn(["sh", "-c", "trap '' TERM; echo ignoring; exec sleep 1000"], { stdout: "pipe" });
    const polite = container.spawn(["sleep", "1000"]);
    expect(await firstLine(stubborn.stdout!)).toBe("ignoring");
    const helper = container.helperPid!;
    await container.close({ graceMs: 200 });
    expect(polite.signalCode).toBe("SIGTERM");
    expect(stubborn.signalCode).toBe("SIGKILL");
    expect(isAlive(helper)).toBe(false);
    expect(container.pids).toEqual([]);
    expect(() => container.spawn(["true"])).toThrow("container is closed");
  });
});

describe("a Container opened by a Worker (issue 9, item 4)", () => {
  test("its children outlive the Worker's exit, and die with the process", async () => {
    // Linux sends a parent-death signal when the parent *thread* exits: a helper cloned on the
    // Worker's thread would take SIGTERM there and end the whole tree while the program runs on.
    const parent = Bun.spawn([bunPath, join(fixturesDir, "container-worker-parent.ts")], { stdout: "pipe", stderr: "inherit" });
    try {
      const report = JSON.parse(await firstLine(parent.stdout));
      expect({ stopped: report.stopped, workerGone: report.workerGone }).toEqual({ stopped: true, workerGone: true });
      // SIGTERM (bit 15) would be pending on the stopped helper had the Worker's exit sent it.
      for (const mask of report.pending) expect(BigInt(`0x${mask}`) & (1n << 14n)).toBe(0n);
      expect([isAlive(report.helper), isAlive(report.pid)]).toEqual([true, true]);
      parent.kill("SIGKILL");
      expect(await survivorsAfter([report.helper, report.pid], tree_bound_ms)).toEqual([]);
    } finally {
      parent.kill("SIGKILL");
    }
  });
});

describe("the open-files limit through a container (issue 9, item 11)", () => {
  const limitsOf = (text: string): [string, string] => {
    const line = text.split("\n").find((l) => l.startsWith("Max open files"))!;
    const [soft, hard] = line.slice(26).trim().split(/\s+/);
    return [soft!, hard!];
  };

  test("the helper runs at its hard limit, so a container is not stopped at ~1,000 children by EMFILE", async () => {
    await using container = new Container();
    expect(await container.spawn(["true"]).exited).toBe(0);
    const [soft, hard] = limitsOf(readFileSync(`/proc/${container.helperPid}/limits`, "utf8"));
    expect(soft).toBe(hard);
    expect(Number(soft)).toBeGreaterThan(4096);
  });

  test("children get what a direct spawn gives: 1024 by default, the parent's limit when kept", async () => {
    await using container = new Container();
    for (const options of [{}, { rlimits: { nofile: {} } }]) {
      const direct = limitsOf(spawnSync(["cat", "/proc/self/limits"], options).stdout!.toString());
      const through = limitsOf(container.spawnSync(["cat", "/proc/self/limits"], options).stdout!.toString());
      const asyncThrough = limitsOf(await (container.spawn(["cat", "/proc/self/limits"], { ...options, stdout: "pipe" }).stdout as ReadableStream).text());
      expect({ options, through, asyncThrough }).toEqual({ options, through: direct, asyncThrough: direct });
    }
  });
});

describe("the hook for spawn(cmd, { container })", () => {
  test("spawnIn(true, …) goes through one lazily made process-wide container; spawnIn(c, …) through c", async () => {
    const viaDefault = spawnIn(true, normalizeSpawn(["sh", "-c", "echo $PPID"], { stdout: "pipe" }, false));
    const helper = defaultContainer().helperPid!;
    expect(Number((await (viaDefault.stdout as ReadableStream).text()).trim())).toBe(helper);
    expect(spawnSyncIn(true, normalizeSpawn(["sh", "-c", "echo $PPID"], undefined, true)).stdout!.toString().trim()).toBe(`${helper}`);
    await using mine = new Container();
    const viaMine = spawnIn(mine, normalizeSpawn(["sh", "-c", "exit 4"], undefined, false));
    expect(await viaMine.exited).toBe(4);
    expect(mine.helperPid).not.toBe(helper);
  });

  test("spawn(cmd, { container: true | c }) and spawnSync take the same routes; a bad value names the option", async () => {
    const viaOption = spawn(["sh", "-c", "echo $PPID"], { container: true });
    expect(Number((await (viaOption.stdout as ReadableStream).text()).trim())).toBe(defaultContainer().helperPid!);
    await using mine = new Container();
    expect(spawnSync(["sh", "-c", "echo $PPID"], { container: mine }).stdout!.toString().trim()).toBe(`${mine.helperPid}`);
    const direct = spawnSync(["sh", "-c", "echo $PPID"], { container: false });
    expect(direct.stdout!.toString().trim()).toBe(`${process.pid}`);
    expect(() => spawn(["true"], { container: 5 as never })).toThrow('The "options.container" property must be a boolean or a Container');
  });

  test("spawnSync limits through a container: the kill goes through the helper's pidfd", async () => {
    await using container = new Container();
    const timed = container.spawnSync(["sleep", "30"], { timeout: 100 });
    expect(timed.exitedDueToTimeout).toBe(true);
    expect(timed.signalCode).toBe("SIGTERM");
    const flooded = container.spawnSync(["sh", "-c", "printf 123456; exec sleep 30"], { maxBuffer: 5, killSignal: "SIGKILL" });
    expect(flooded.exitedDueToMaxBuffer).toBe(true);
    expect(flooded.signalCode).toBe("SIGKILL");
    expect(flooded.stdout!.toString()).toBe("123456");
  });

  test("a request larger than a socket's default buffer (a 600 KB environment) travels whole", async () => {
    await using container = new Container();
    // Six variables of 100 KB: one string may not exceed 128 KiB at execve (MAX_ARG_STRLEN).
    const env: Record<string, string> = { PATH: process.env.PATH! };
    for (let i = 0; i < 6; i++) env[`BIG${i}`] = String(i).repeat(100_000);
    const child = container.spawn(["sh", "-c", 'printf %s "$BIG0$BIG1$BIG2$BIG3$BIG4$BIG5" | wc -c'], { env, stdout: "pipe" });
    expect((await (child.stdout as ReadableStream).text()).trim()).toBe("600000");
    expect(await child.exited).toBe(0);
  });
});

describe("options", () => {
  test("graceMs is validated: a non-negative integer, nothing else accepted", () => {
    for (const bad of [{ graceMs: -1 }, { graceMs: 1.5 }, { graceMs: "10" }, { grace: 10 }, 5]) {
      expect(() => new Container(bad as never)).toThrow(TypeError);
    }
    expect(() => new Container({ graceMs: -1 })).toThrow('"options.graceMs"');
    expect(new Container({ graceMs: 0 })).toBeInstanceOf(Container);
    expect(new Container()).toBeInstanceOf(Container);
  });
});

// ---------------------------------------------------------------------------------------------
// The direct spawn scenarios, through a container, against Bun.spawn.

describe("a container spawn looks like Bun.spawn", () => {
  let container: Container;
  beforeAll(() => {
    container = new Container();
  });
  afterAll(() => container.close());
  const run = (impl: "bun" | "container") => (impl === "bun" ? Bun.spawn : (cmd: string[], o?: object) => container.spawn(cmd, o)) as typeof Bun.spawn;
  const runSync = (impl: "bun" | "container") =>
    (impl === "bun" ? Bun.spawnSync : (cmd: string[], o?: object) => container.spawnSync(cmd, o)) as typeof Bun.spawnSync;
  const both = async <T>(scenario: (spawn: typeof Bun.spawn) => Promise<T>) => ({ bun: await scenario(run("bun")), container: await scenario(run("container")) });

  test("stdout and stderr bytes, exit code", async () => {
    const seen = await both(async (spawn) => {
      const p = spawn(["sh", "-c", "printf 'a\\0b\\377'; printf err >&2; exit 3"], { stdout: "pipe", stderr: "pipe" });
      const [out, err] = await Promise.all([p.stdout.bytes(), p.stderr.bytes()]);
      return { out: [...out], err: [...err], code: await p.exited, exitCode: p.exitCode, signalCode: p.signalCode };
    });
    expect(seen.container).toEqual(seen.bun);
  });

  test("stdin pipe", async () => {
    const seen = await both(async (spawn) => {
      const p = spawn(["cat"], { stdin: "pipe", stdout: "pipe" });
      p.stdin!.write("through the helper\n");
      await p.stdin!.end();
      return { out: await (p.stdout as ReadableStream).text(), code: await p.exited };
    });
    expect(seen.container).toEqual(seen.bun);
  });

  test("stdin from a buffer and stdout to a Bun.file (sources opened around the launch)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "forkless-container-"));
    try {
      const seen = await both(async (spawn) => {
        const target = join(dir, `out-${Math.random()}`);
        const p = spawn(["sh", "-c", "cat; echo done"], { stdin: Buffer.from("from a buffer\n"), stdout: Bun.file(target) });
        const code = await p.exited;
        return { code, file: readFileSync(target, "utf8"), stdout: p.stdout };
      });
      expect(seen.container).toEqual(seen.bun);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test("a child ended by a signal, and kill()", async () => {
    const seen = await both(async (spawn) => {
      const self = spawn(["sh", "-c", "kill -USR1 $$"]);
      const killed = spawn(["sleep", "1000"]);
      killed.kill("SIGINT");
      return { self: [await self.exited, self.signalCode, self.exitCode], killed: [await killed.exited, killed.signalCode, killed.killed] };
    });
    expect(seen.container).toEqual(seen.bun);
  });

  test("onExit order and arguments, exit status and resourceUsage shape", async () => {
    const seen = await both(async (spawn) => {
      const order: string[] = [];
      const p = spawn(["sh", "-c", "exit 9"], { onExit: (_p, code, signal, error) => void order.push(`onExit ${code} ${signal} ${error}`) });
      await p.exited.then(() => order.push("exited"));
      await Bun.sleep(0);
      return { order, usage: Object.keys(p.resourceUsage() ?? {}).sort() };
    });
    expect(seen.container).toEqual(seen.bun);
  });

  test("launch errors: missing executable, missing cwd, not executable", async () => {
    const dir = mkdtempSync(join(tmpdir(), "forkless-container-"));
    writeFileSync(join(dir, "plain"), "not a program");
    try {
      for (const [cmd, options] of [
        [["definitely-not-a-command-xyz"], {}],
        [["true"], { cwd: "/nonexistent/dir" }],
        [[join(dir, "plain")], {}],
        [["/nonexistent/program"], {}],
      ] as const) {
        const shapes = await both(async (spawn) => {
          try {
            spawn(cmd as unknown as string[], options);
            return "returned";
          } catch (error) {
            return errorShape(error);
          }
        });
        expect(shapes.container).toEqual(shapes.bun);
      }
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test("spawnSync: bytes, codes, signals, errors", () => {
    for (const cmd of [
      ["sh", "-c", "echo out; echo err >&2; exit 4"],
      ["sh", "-c", "kill -TERM $$"],
    ]) {
      const bun = Bun.spawnSync(cmd);
      const through = runSync("container")(cmd);
      expect({ ...through, resourceUsage: undefined, pid: 0 }).toEqual({ ...bun, resourceUsage: undefined, pid: 0 } as never);
    }
    let bunError: unknown;
    let containerError: unknown;
    try {
      Bun.spawnSync(["true"], { cwd: "/nonexistent/dir" });
    } catch (error) {
      bunError = error;
    }
    try {
      container.spawnSync(["true"], { cwd: "/nonexistent/dir" });
    } catch (error) {
      containerError = error;
    }
    expect(errorShape(containerError)).toEqual(errorShape(bunError));
  });
});
