// spawnAndWait (Bun's open PR #36893: test/js/bun/spawn/spawnAndWait.test.ts there is the spec):
// spawnSync's options and result as a Promise, built on spawn() so the event loop runs meanwhile.
// Bun 1.4.5 has no spawnAndWait, so where the result is deterministic each scenario is compared
// with Bun.spawnSync itself (the PR's promise: the same shape); the rest is the PR's behaviour.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnAndWait, spawnSync, type SyncSubprocess } from "../src/index.ts";
import { ResourceUsage } from "../src/resource.ts";
import { expectNoFdLeft } from "./wait.ts";
import { bunPath, thrownBy } from "./oracle.ts";

// A guard against hangs, not a timing assert.
setDefaultTimeout(60_000);

/** What a result shows, without what differs between runs (pid, cpu time). */
function shape(result: SyncSubprocess) {
  return {
    keys: Object.keys(result),
    exitCode: result.exitCode,
    signalCode: result.signalCode,
    success: result.success,
    stdout: Buffer.isBuffer(result.stdout) ? `Buffer:${result.stdout.toString("latin1")}` : result.stdout,
    stderr: Buffer.isBuffer(result.stderr) ? `Buffer:${result.stderr.toString("latin1")}` : result.stderr,
    exitedDueToTimeout: result.exitedDueToTimeout,
    exitedDueToMaxBuffer: result.exitedDueToMaxBuffer,
  };
}

const tmp = mkdtempSync(join(tmpdir(), "forkless-saw-"));
writeFileSync(join(tmp, "marker.txt"), "");
afterAll(() => rmSync(tmp, { recursive: true }));

/** [name, cmd, options]: every one deterministic under Bun.spawnSync. */
const scenarios: [string, string[], Record<string, unknown>][] = [
  ["stdout", ["sh", "-c", "echo hello"], {}],
  ["stderr is captured by default", ["sh", "-c", "echo err output >&2"], {}],
  ["a non-zero exit", ["sh", "-c", "exit 42"], {}],
  ["killed by a signal", ["sh", "-c", "kill -TERM $$; sleep 5"], {}],
  ["large output", [bunPath, "-e", `process.stdout.write(Buffer.alloc(256 * 1024, "x"))`], {}],
  ["cwd", ["sh", "-c", "ls marker.txt"], { cwd: tmp }],
  ["env", ["sh", "-c", "echo $MY_TEST_VAR"], { env: { MY_TEST_VAR: "hello_from_env", PATH: process.env.PATH } }],
  ["stdin as Uint8Array", ["cat"], { stdin: new TextEncoder().encode("from stdin") }],
  ["stdin as a Blob", ["cat"], { stdin: new Blob(["from a blob"]) }],
  ["stdin 'pipe' is nothing (as spawnSync)", ["cat"], { stdin: "pipe" }],
  ["stdout 'ignore' is undefined", ["sh", "-c", "echo discarded"], { stdout: "ignore" }],
  ["stdout 'inherit' is undefined", ["true"], { stdout: "inherit" }],
  ["stdout to an fd is that fd", ["true"], { stdout: 2 }],
  ["a timeout that fires", ["sleep", "30"], { timeout: 100, killSignal: "SIGKILL" }],
  ["a timeout that does not", ["true"], { timeout: 60_000 }],
  ["maxBuffer not reached", ["sh", "-c", "echo short"], { maxBuffer: 1024 * 1024 }],
  ["no timeout and no maxBuffer: no such keys", ["true"], { killSignal: "SIGKILL" }],
];

describe("spawnAndWait against Bun.spawnSync", () => {
  for (const [name, cmd, options] of scenarios) {
    test(name, async () => {
      const bun = shape(Bun.spawnSync(cmd, options as never) as SyncSubprocess);
      const [viaArray, viaObject] = await Promise.all([spawnAndWait(cmd, options as never), spawnAndWait({ cmd, ...options } as never)]);
      expect(shape(viaArray)).toEqual(bun);
      expect(shape(viaObject)).toEqual(bun);
    });
  }

  test("errors at the call are spawnSync's: a missing command, a bad option, a ReadableStream stdin", () => {
    const calls: [string[], Record<string, unknown>][] = [
      [["this-binary-definitely-does-not-exist-12345"], {}],
      [["true"], { cwd: "/nonexistent-forkless-dir" }],
      [["true"], { stdio: ["ignore", "pipe", "pipe", "nope"] }],
      [["true"], { stdin: new ReadableStream() }],
      [["true"], { timeout: -1 }],
    ];
    for (const [cmd, options] of calls) {
      const bun = thrownBy(() => Bun.spawnSync(cmd, options as never));
      expect(bun).not.toBe("returned");
      // Thrown, not a rejected promise: no child was launched.
      expect(thrownBy(() => spawnAndWait(cmd, options as never))).toEqual(bun);
    }
  });
});

describe("spawnAndWait's own behaviour (PR #36893)", () => {
  test("returns a real Promise of Buffers, with a ResourceUsage and the pid", async () => {
    const pending = spawnAndWait(["sh", "-c", "echo out; echo err >&2"]);
    expect(pending).toBeInstanceOf(Promise);
    const result = await pending;
    expect(Buffer.isBuffer(result.stdout)).toBe(true);
    expect(Buffer.isBuffer(result.stderr)).toBe(true);
    expect(result.resourceUsage).toBeInstanceOf(ResourceUsage);
    expect(typeof result.resourceUsage.maxRSS).toBe("number");
    expect(result.pid).toBeGreaterThan(0);
  });

  test("does not block the event loop: the child waits for a file only a timer of ours makes", async () => {
    const flag = join(tmp, `go-${Math.random()}`);
    const pending = spawnAndWait(["sh", "-c", `while [ ! -e '${flag}' ]; do sleep 0.01; done; echo done`]);
    // spawnSync would block here, the timer would never run and the child never end.
    setTimeout(() => writeFileSync(flag, ""), 1);
    const result = await pending;
    expect(result.stdout.toString()).toBe("done\n");
  });

  test("concurrent calls run side by side", async () => {
    // Each child waits until all three exist (a sequential runner would wait forever).
    const dir = mkdtempSync(join(tmp, "concurrent-"));
    const results = await Promise.all(
      [1, 2, 3].map((i) =>
        spawnAndWait(["sh", "-c", `touch '${dir}/${i}'; while [ $(ls '${dir}' | wc -l) -lt 3 ]; do sleep 0.01; done; echo ${i}`]),
      ),
    );
    expect(results.map((r) => r.stdout.toString().trim())).toEqual(["1", "2", "3"]);
  });

  test("onExit is ignored", async () => {
    let called = false;
    const result = await spawnAndWait({ cmd: ["sh", "-c", "echo hi"], onExit: () => (called = true) } as never);
    expect(result.stdout.toString()).toBe("hi\n");
    await Bun.sleep(0);
    expect(called).toBe(false);
  });

  test("'socket-fd' and terminal are refused at the call, with the PR's messages", () => {
    expect(thrownBy(() => spawnAndWait(["true"], { stdio: ["ignore", "pipe", "pipe", "socket-fd"] } as never))).toMatchObject({
      class: "TypeError",
      code: "ERR_INVALID_ARG_TYPE",
      message: "stdio: 'socket-fd' cannot be used with spawnSync or spawnAndWait",
    });
    expect(thrownBy(() => spawnAndWait({ cmd: ["true"], terminal: {} } as never))).toMatchObject({
      class: "TypeError",
      message: expect.stringContaining("spawnAndWait"),
    });
  });

  test("a timeout kill sets exitedDueToTimeout", async () => {
    const result = await spawnAndWait(["sleep", "30"], { timeout: 100, killSignal: "SIGKILL" });
    expect(result).toMatchObject({ exitCode: null, signalCode: "SIGKILL", success: false, exitedDueToTimeout: true });
  });

  test("a maxBuffer kill sets exitedDueToMaxBuffer and keeps maxBuffer + 1 bytes", async () => {
    const result = await spawnAndWait(["yes"], { maxBuffer: 256, killSignal: "SIGHUP" });
    expect(result).toMatchObject({ exitCode: null, signalCode: "SIGHUP", success: false, exitedDueToMaxBuffer: true });
    expect(result.stdout.toString()).toBe("y\n".repeat(128) + "y");
    expect(Object.keys(result)).toEqual(["exitCode", "signalCode", "stdout", "stderr", "success", "resourceUsage", "exitedDueToMaxBuffer", "pid"]);
  });

  test("an AbortSignal kills and the promise resolves", async () => {
    const controller = new AbortController();
    const pending = spawnAndWait(["sleep", "30"], { signal: controller.signal, killSignal: "SIGKILL" });
    controller.abort();
    const result = await pending;
    expect(result).toMatchObject({ exitCode: null, signalCode: "SIGKILL", success: false });
    // An abort is not a timeout, and with no timeout the key is not there at all.
    expect("exitedDueToTimeout" in result).toBe(false);
  });

  test("maxMemory: exitedDueToMaxMemory, as spawnSync's", async () => {
    const hog = `const b = Buffer.allocUnsafe(384 * 1024 * 1024); for (let i = 0; i < b.length; i += 4096) b[i] = 1; setInterval(() => {}, 1000);`;
    const over = await spawnAndWait([bunPath, "-e", hog], { maxMemory: 192 * 1024 * 1024, killSignal: "SIGKILL" });
    expect(over).toMatchObject({ signalCode: "SIGKILL", success: false, exitedDueToMaxMemory: true });
    const under = await spawnAndWait(["true"], { maxMemory: 1024 * 1024 * 1024 });
    expect(Object.keys(under)).toEqual(Object.keys(spawnSync(["true"], { maxMemory: 1024 * 1024 * 1024 })));
    expect(under.exitedDueToMaxMemory).toBe(false);
  });

  test("through the default container", async () => {
    const result = await spawnAndWait(["sh", "-c", "echo boxed"], { container: true });
    expect(result).toMatchObject({ exitCode: 0, success: true });
    expect(result.stdout.toString()).toBe("boxed\n");
  });

  test("leaves no fd and no child behind: each child is reaped when its promise resolves", async () => {
    await expectNoFdLeft(async () => {
      const results = await Promise.all([
        spawnAndWait(["sh", "-c", "echo a; echo b >&2"]),
        spawnAndWait(["cat"], { stdin: new TextEncoder().encode("x") }),
        spawnAndWait(["sleep", "30"], { timeout: 50 }),
      ]);
      for (const r of results) expect(existsSync(`/proc/${r.pid}`)).toBe(false);
    });
  });
});
