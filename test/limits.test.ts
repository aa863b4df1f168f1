// The limits on a child's run — timeout + killSignal, an AbortSignal, maxBuffer — through Bun and
// through forkless: field presence and order in spawnSync results, exit status and onExit after a
// kill, what stdout holds after a maxBuffer kill, and every error for bad values. Where Bun is not
// deterministic (its spawnSync sometimes sets exitedDueToMaxBuffer and never sends the signal),
// forkless is held to the documented behaviour and Bun's rate is only recorded.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { bothSync, both, bunPath, errorShape, fixturesDir, isAlive, thrownBy, type AnySpawn } from "./oracle.ts";
import { spawn as forklessSpawn, spawnSync as forklessSpawnSync } from "../src/index.ts";

// A guard against hangs (a kill that never comes), not a timing assert.
setDefaultTimeout(60_000);

/** A spawnSync result without what differs between runs (pid, cpu time). */
function syncShape(result: any) {
  return {
    keys: Object.keys(result),
    exitCode: result.exitCode,
    signalCode: result.signalCode,
    success: result.success,
    stdout: result.stdout?.toString("latin1"),
    stderr: result.stderr?.toString("latin1"),
    exitedDueToTimeout: result.exitedDueToTimeout,
    exitedDueToMaxBuffer: result.exitedDueToMaxBuffer,
  };
}

const keysBefore = ["exitCode", "stdout", "stderr", "success", "resourceUsage"];

describe("spawnSync: timeout", () => {
  test("a child past its timeout is killed with SIGTERM; exitedDueToTimeout sits before pid", () => {
    const seen = bothSync((spawnSync) => syncShape(spawnSync(["sleep", "30"], { timeout: 100 })));
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toMatchObject({ exitCode: null, signalCode: "SIGTERM", success: false, exitedDueToTimeout: true });
    expect(seen.bun.keys).toEqual(["exitCode", "signalCode", ...keysBefore.slice(1), "exitedDueToTimeout", "pid"]);
  });

  test("killSignal by name and by number", () => {
    const seen = bothSync((spawnSync) =>
      [["SIGKILL", "SIGKILL"], [9, "SIGKILL"], ["SIGUSR1", "SIGUSR1"], [2, "SIGINT"]].map(([killSignal]) =>
        syncShape(spawnSync(["sleep", "30"], { timeout: 50, killSignal })),
      ),
    );
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun.map((r) => r.signalCode)).toEqual(["SIGKILL", "SIGKILL", "SIGUSR1", "SIGINT"]);
  });

  test("a child that ends in time: exitedDueToTimeout false; no timeout (0, null, Infinity): no field", () => {
    const seen = bothSync((spawnSync) => [
      syncShape(spawnSync(["sh", "-c", "echo ok; exit 3"], { timeout: 60_000 })),
      ...[0, -0, null, undefined, Infinity].map((timeout) => syncShape(spawnSync(["true"], { timeout }))),
      syncShape(spawnSync(["true"], { killSignal: "SIGKILL" })),
    ]);
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun[0]).toMatchObject({ exitCode: 3, stdout: "ok\n", exitedDueToTimeout: false });
    expect(seen.bun[0]!.keys).toEqual([...keysBefore, "exitedDueToTimeout", "pid"]);
    for (const r of seen.bun.slice(2)) expect(r.keys).toEqual([...keysBefore, "pid"]);
  });

  // Bun 1.4.5 fires any timeout of 2 ** 31 ms or more at once (spawn and spawnSync alike): a
  // 25-day timeout kills a `sleep 0.3` immediately. forkless waits as long as it was asked to.
  test("a timeout of 2 ** 31 ms and more is honoured, not fired at once", async () => {
    for (const timeout of [2 ** 31, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
      const sync = syncShape(forklessSpawnSync(["sh", "-c", "sleep 0.1; echo done"], { timeout }));
      expect(sync).toMatchObject({ exitCode: 0, stdout: "done\n", exitedDueToTimeout: false });
      const child = forklessSpawn(["sleep", "0.1"], { timeout });
      expect(await child.exited).toBe(0);
    }
  });

  test("output written before the timeout is kept", () => {
    const seen = bothSync((spawnSync) => syncShape(spawnSync(["sh", "-c", "echo before; echo e >&2; exec sleep 30"], { timeout: 1000 })));
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toMatchObject({ stdout: "before\n", stderr: "e\n", signalCode: "SIGTERM" });
  });

  test("after the kill the pipes are closed: a child that ignores the signal dies writing (SIGPIPE)", () => {
    const script = "trap '' TERM; echo x; sleep 0.5; echo y";
    const seen = bothSync((spawnSync) => syncShape(spawnSync(["sh", "-c", script], { timeout: 200 })));
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toMatchObject({ stdout: "x\n", signalCode: "SIGPIPE", exitedDueToTimeout: true });
  });
});

describe("spawnSync: signal", () => {
  // spawnSync blocks the loop, so only a timeout signal can fire during it: Bun kills for
  // AbortSignal.timeout, and for a controller aborted by a timer or AbortSignal.any it does not.
  test("AbortSignal.timeout kills the child with killSignal; exitedDueToTimeout only with a `timeout` option", () => {
    const seen = bothSync((spawnSync) => [
      syncShape(spawnSync(["sh", "-c", "echo before; exec sleep 30"], { signal: AbortSignal.timeout(100) })),
      syncShape(spawnSync(["sleep", "30"], { signal: AbortSignal.timeout(50), killSignal: "SIGKILL" })),
      // Both: the signal's deadline comes first; Bun still reports exitedDueToTimeout.
      syncShape(spawnSync(["sleep", "30"], { signal: AbortSignal.timeout(50), timeout: 60_000 })),
      // And a timeout that comes first is the timeout.
      syncShape(spawnSync(["sleep", "30"], { signal: AbortSignal.timeout(60_000), timeout: 50 })),
    ]);
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun.map((r) => [r.signalCode, r.exitedDueToTimeout])).toEqual([["SIGTERM", undefined], ["SIGKILL", undefined], ["SIGTERM", true], ["SIGTERM", true]]);
    expect(seen.bun[0]!.stdout).toBe("before\n");
  });

  test("AbortSignal.any of a timeout signal: not killed, as in Bun (the loop cannot run)", () => {
    const seen = bothSync((spawnSync) => syncShape(spawnSync(["sleep", "0.3"], { signal: AbortSignal.any([AbortSignal.timeout(20)]) })));
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toMatchObject({ exitCode: 0 });
  });
});

describe("spawnSync: maxBuffer", () => {
  test("counted per stream: 3 bytes on each of stdout and stderr pass a maxBuffer of 5", () => {
    const seen = bothSync((spawnSync) => [
      syncShape(spawnSync(["sh", "-c", "printf 123; printf 456 >&2"], { maxBuffer: 5 })),
      syncShape(spawnSync(["sh", "-c", "printf 12345"], { maxBuffer: 5 })),
    ]);
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun[0]).toMatchObject({ exitCode: 0, stdout: "123", stderr: "456", exitedDueToMaxBuffer: false });
    expect(seen.bun[0]!.keys).toEqual([...keysBefore, "exitedDueToMaxBuffer", "pid"]);
    expect(seen.bun[1]).toMatchObject({ exitCode: 0, stdout: "12345", exitedDueToMaxBuffer: false });
  });

  test("which values set a limit (the field appears): Bun ignores anything but a number >= 1", () => {
    const values = [1.5, 2 ** 53, 0.4, 0, -1, NaN, Infinity, 1e20, "100", {}, true, null];
    const seen = bothSync((spawnSync) => values.map((maxBuffer) => "exitedDueToMaxBuffer" in spawnSync(["true"], { maxBuffer })));
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toEqual([true, true, false, false, false, false, false, false, false, false, false, false]);
  });

  // Bun sets exitedDueToMaxBuffer without always killing (see the load test): compare the rest.
  test("one byte over: flagged, killed with killSignal, and stdout holds the byte that broke the limit", () => {
    const run = (spawnSync: AnySpawn) =>
      ["SIGTERM", "SIGKILL"].map((killSignal) => syncShape(spawnSync(["sh", "-c", "printf 123456 >&2; exec sleep 2"], { maxBuffer: 5, killSignal })));
    const seen = bothSync(run);
    expect(seen.forkless.map((r) => [r.signalCode, r.exitedDueToMaxBuffer, r.stderr])).toEqual([["SIGTERM", true, "123456"], ["SIGKILL", true, "123456"]]);
    expect(seen.forkless[0]!.keys).toEqual(["exitCode", "signalCode", ...keysBefore.slice(1), "exitedDueToMaxBuffer", "pid"]);
    expect(seen.bun.map((r) => [r.exitedDueToMaxBuffer, r.stderr])).toEqual([[true, "123456"], [true, "123456"]]);
  });

  test("a flood: forkless keeps exactly maxBuffer + 1 bytes (Bun keeps whatever its last read got)", () => {
    const seen = bothSync((spawnSync) => syncShape(spawnSync(["sh", "-c", "head -c 1000000 /dev/zero; exec sleep 2"], { maxBuffer: 100, killSignal: 9 })));
    expect(seen.forkless.stdout!.length).toBe(101);
    expect(seen.forkless).toMatchObject({ signalCode: "SIGKILL", exitedDueToMaxBuffer: true });
    expect(seen.bun.stdout!.length).toBeGreaterThan(100);
    expect(seen.bun.exitedDueToMaxBuffer).toBe(true);
  });

  test("with both limits, maxBuffer first: both fields, exitedDueToTimeout false", () => {
    const r = syncShape(forklessSpawnSync(["sh", "-c", "printf 123456; exec sleep 30"], { maxBuffer: 5, timeout: 30_000 }));
    expect(r).toMatchObject({ signalCode: "SIGTERM", exitedDueToTimeout: false, exitedDueToMaxBuffer: true, stdout: "123456" });
    expect(r.keys).toEqual(["exitCode", "signalCode", ...keysBefore.slice(1), "exitedDueToTimeout", "exitedDueToMaxBuffer", "pid"]);
    const bun = syncShape(Bun.spawnSync(["sh", "-c", "printf 123456; exec sleep 2"], { maxBuffer: 5, timeout: 30_000 }));
    expect(bun.keys.filter((k) => k !== "signalCode")).toEqual(r.keys.filter((k) => k !== "signalCode"));
  });

  // Four busy loops on this machine's cores, then the same maxBuffer spawnSync again and again.
  // forkless must kill every time. Bun misses some (flag set, child left running until it ends by
  // itself): measured here 17–27 % of 30 runs, and 14 of 20 (2 cores). Not asserted: Bun may mend it.
  test("under load, every maxBuffer spawnSync is killed", () => {
    const busy = Array.from({ length: 4 }, () => Bun.spawn(["sh", "-c", "while :; do :; done"], { stdout: "ignore", stderr: "ignore" }));
    try {
      const script = "printf 123456; exec sleep 0.5";
      const runs = (spawnSync: AnySpawn, n: number) =>
        Array.from({ length: n }, () => {
          const r = spawnSync(["sh", "-c", script], { maxBuffer: 5 });
          return { flagged: r.exitedDueToMaxBuffer, signalCode: r.signalCode ?? null, exitCode: r.exitCode };
        });
      const ours = runs(forklessSpawnSync, 50);
      expect(ours).toEqual(Array.from({ length: 50 }, () => ({ flagged: true, signalCode: "SIGTERM", exitCode: null })));
    } finally {
      for (const b of busy) b.kill(9);
    }
  });
});

describe("spawn: timeout and AbortSignal", () => {
  async function ended(spawn: AnySpawn, cmd: string[], options: object, during?: (child: any) => void) {
    let args: unknown[] = [];
    const child = spawn(cmd, { ...options, onExit: (_: unknown, ...rest: unknown[]) => (args = rest) });
    during?.(child);
    const exited = await child.exited;
    await new Promise((resolve) => setTimeout(resolve, 10)); // onExit runs after exited's callbacks
    return { exited, exitCode: child.exitCode, signalCode: child.signalCode, killed: child.killed, onExit: args };
  }

  test("past its timeout the child is killed with killSignal; exitCode, signalCode, killed, onExit", async () => {
    const seen = await both(async (spawn) => [
      await ended(spawn, ["sleep", "30"], { timeout: 100 }),
      await ended(spawn, ["sleep", "30"], { timeout: 100, killSignal: "SIGKILL" }),
      await ended(spawn, ["sh", "-c", "exit 3"], { timeout: 60_000 }),
    ]);
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun[0]).toEqual({ exited: 143, exitCode: null, signalCode: "SIGTERM", killed: true, onExit: [null, "SIGTERM", undefined] });
    expect(seen.bun[1]!.signalCode).toBe("SIGKILL");
    expect(seen.bun[2]!.exitCode).toBe(3);
  });

  // Bun's spawn-maxbuf test "stdout does not hang when a grandchild outlives the kill": after a
  // timeout or abort kill, outputs not being read yet end at the exit with what they held, though
  // the grandchild still holds the pipe. (Read from before the exit, they wait for its end: as in
  // Bun, and for a plain kill() too.)
  for (const [how, limit] of [["timeout", () => ({ timeout: 200 })], ["AbortSignal.timeout", () => ({ signal: AbortSignal.timeout(200) })]] as const) {
    test(`after a ${how} kill, unread outputs end at the exit while a grandchild holds them`, async () => {
      const seen = await both(async (spawn) => {
        const child = spawn(["sh", "-c", "sleep 1000 & echo $! >&2; echo from-child; read _"], { ...limit(), stdio: ["pipe", "pipe", "pipe"] });
        await child.exited;
        const [stdout, stderr] = await Promise.all([child.stdout.text(), child.stderr.text()]);
        process.kill(Number(stderr.trim()), "SIGKILL"); // the grandchild, the test's own
        return { stdout, stderr: stderr.replace(/\d+/, "N"), exitCode: child.exitCode, signalCode: child.signalCode };
      });
      expect(seen.forkless).toEqual(seen.bun);
      expect(seen.bun).toEqual({ stdout: "from-child\n", stderr: "N\n", exitCode: null, signalCode: "SIGTERM" });
    }, 30_000);
  }

  test("an AbortSignal aborted later kills with killSignal; aborting after the exit does nothing", async () => {
    const seen = await both(async (spawn) => {
      const results = [];
      for (const killSignal of [undefined, 9]) {
        const controller = new AbortController();
        results.push(await ended(spawn, ["sleep", "30"], { signal: controller.signal, killSignal }, () => setTimeout(() => controller.abort(), 50)));
      }
      const controller = new AbortController();
      results.push(await ended(spawn, ["true"], { signal: controller.signal }));
      controller.abort();
      return results;
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun.map((r) => r.signalCode)).toEqual(["SIGTERM", "SIGKILL", null]);
  });

  /** Runs spawner.ts (one spawn, then the program's own end) and reports what it printed. */
  async function spawner(impl: string, mode: string, options: object, cmd: string[]) {
    const program = Bun.spawn([bunPath, `${fixturesDir}spawner.ts`, impl, mode, JSON.stringify(options), "--", ...cmd], { stdout: "pipe", stderr: "inherit" });
    // Far beyond any ordinary end: only a timer left behind would reach it.
    const guard = setTimeout(() => program.kill(9), 20_000);
    const text = await new Response(program.stdout).text();
    await program.exited;
    clearTimeout(guard);
    return { text, signalCode: program.signalCode };
  }

  test("the timer goes with the child: a program ends when its child does, not at the timeout", async () => {
    const seen = await both(async (_, name) => {
      const { text, signalCode } = await spawner(name === "forkless" ? "forkless" : "bun", "plain", { timeout: 100_000 }, ["true"]);
      return { text: text.replace(/pid \d+/, "pid N"), signalCode };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toEqual({ text: "pid N\nonExit 0 null\n", signalCode: null });
  });

  // Bun keeps the program alive for an unref()'d child with a timeout until the child ends (its
  // timer stays ref'd); forkless follows unref(): the program ends at once and the child runs on.
  test("an unref()'d child's timeout does not hold the program open", async () => {
    const { text, signalCode } = await spawner("forkless", "unref", { timeout: 100_000 }, ["sleep", "30"]);
    expect(signalCode).toBeNull();
    expect(text).not.toContain("onExit");
    const pid = Number(text.match(/pid (\d+)/)![1]);
    expect(isAlive(pid)).toBe(true);
    process.kill(pid, "SIGKILL");
  });
});

describe("spawn: maxBuffer", () => {
  async function run(spawn: AnySpawn, script: string, options: object, read: "none" | "both") {
    const child = spawn(["sh", "-c", script], { stdout: "pipe", stderr: "pipe", ...options });
    let out: string | undefined;
    let err: string | undefined;
    if (read === "both") [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
    await child.exited;
    return { exitCode: child.exitCode, signalCode: child.signalCode, out, err };
  }

  test("per stream, read or not: one byte over kills; 3 + 3 under a limit of 5 does not", async () => {
    const seen = await both(async (spawn) => [
      await run(spawn, "printf 123456; exec sleep 5", { maxBuffer: 5 }, "none"),
      await run(spawn, "printf 123456 >&2; exec sleep 5", { maxBuffer: 5 }, "none"),
      await run(spawn, "printf 123456; exec sleep 5", { maxBuffer: 5, killSignal: "SIGKILL" }, "both"),
      await run(spawn, "printf 123; printf 456 >&2", { maxBuffer: 5 }, "both"),
      await run(spawn, "printf 123; printf 456 >&2", { maxBuffer: 5 }, "none"),
      await run(spawn, "printf 12; exec sleep 5", { maxBuffer: 1.5 }, "none"),
      await run(spawn, "printf 12", { maxBuffer: 0.5 }, "both"),
    ]);
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun.map((r) => r.signalCode)).toEqual(["SIGTERM", "SIGTERM", "SIGKILL", null, null, "SIGTERM", null]);
    expect(seen.bun[2]).toMatchObject({ out: "123456", err: "" });
  });

  test("a flood: stdout ends after maxBuffer + 1 bytes (Bun: after its last read)", async () => {
    const seen = await both((spawn) => run(spawn, "exec head -c 1000000 /dev/zero", { maxBuffer: 100 }, "both"));
    expect(seen.forkless).toEqual({ exitCode: null, signalCode: "SIGTERM", out: "\0".repeat(101), err: "" });
    expect(seen.bun.signalCode).toBe("SIGTERM");
    expect(seen.bun.out!.length).toBeGreaterThan(100);
  });
});

describe("bad values: Bun's errors, in Bun's order", () => {
  const aborted = new AbortController();
  aborted.abort();
  const cases: [string, unknown[], object][] = [
    ...[-1, NaN, "100", 1.5, -1.5, -Infinity, {}, true, 10n, 2 ** 53, 1e300, Infinity, null, -0].map(
      (timeout): [string, unknown[], object] => [`timeout ${String(timeout)}`, ["true"], { timeout }],
    ),
    ...["KILL", "sigkill", "SIGFOO", "SIGRTMIN", "", 0, -0, -1, 31, 32, 65, 1.5, Infinity, NaN, null, {}, true, 2 ** 53].map(
      (killSignal): [string, unknown[], object] => [`killSignal ${String(killSignal)}`, ["true"], { killSignal }],
    ),
    ...["x", 1, false, {}, new AbortController(), new EventTarget(), null].map(
      (signal): [string, unknown[], object] => [`signal ${Object.prototype.toString.call(signal)}`, ["true"], { signal }],
    ),
    ...["1", -1, NaN, {}, Infinity].map((maxBuffer): [string, unknown[], object] => [`maxBuffer ${String(maxBuffer)}`, ["true"], { maxBuffer }]),
    ["timeout before killSignal", ["true"], { killSignal: "X", timeout: -1 }],
    ["stdio before timeout", ["true"], { timeout: -1, stdio: ["bogus"] }],
    ["a missing command before timeout", ["forkless-no-such-command"], { timeout: -1 }],
    ["killSignal before detached", ["true"], { killSignal: "X", detached: "x" }],
    ["an aborted signal before a missing command", ["forkless-no-such-command"], { signal: aborted.signal }],
    ["an aborted signal before bad stdio, env, timeout", ["true"], { signal: aborted.signal, stdio: ["bogus"], env: 5, timeout: -1 }],
    ["an aborted signal before an empty cmd", [], { signal: aborted.signal }],
    ["cwd with NUL before an aborted signal", ["true"], { signal: aborted.signal, cwd: "a\0" }],
    ["a bad signal before onDisconnect", ["true"], { signal: 5, onDisconnect: 5 }],
  ];
  for (const [name, cmd, options] of cases) {
    test(name, async () => {
      const seen = await both((spawn) => thrownBy(() => spawn(cmd, options)));
      expect(seen.forkless).toEqual(seen.bun);
      const sync = bothSync((spawnSync) => thrownBy(() => spawnSync(cmd, options)));
      expect(sync.forkless).toEqual(sync.bun);
    });
  }

  test("an aborted signal: Bun's AbortError, its reason as cause, name and code inherited", async () => {
    const reasons = [undefined, "my reason", new Error("boom")];
    const shape = (error: any, controller: AbortController) => ({
      ...errorShape(error),
      causeIsReason: error.cause === controller.signal.reason,
      causeEnumerable: Object.getOwnPropertyDescriptor(error, "cause")?.enumerable,
      protoKeys: Object.keys(Object.getPrototypeOf(error)),
      isError: error instanceof Error,
      fromErrorProto: Object.getPrototypeOf(Object.getPrototypeOf(error)) === Error.prototype,
    });
    const probe = (spawn: AnySpawn) =>
      reasons.map((reason) => {
        const controller = new AbortController();
        controller.abort(reason);
        try {
          spawn(["true"], { signal: controller.signal });
          return "returned";
        } catch (error) {
          return shape(error, controller);
        }
      });
    const seen = await both((spawn) => probe(spawn));
    expect(seen.forkless).toEqual(seen.bun);
    const sync = bothSync((spawnSync) => probe(spawnSync));
    expect(sync.forkless).toEqual(sync.bun);
    expect(seen.bun[0]).toMatchObject({ class: "Error", name: "AbortError", code: "ABORT_ERR", message: "The operation was aborted", causeIsReason: true });
  });
});
