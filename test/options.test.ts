// Every bad input goes through Bun.spawn / Bun.spawnSync and through normalizeSpawn, and the two
// errors must look the same to a user (class, code, message, errno, syscall, path, keys, String()).
// Good inputs: the plan is checked against what Bun's child actually sees (its environ, its fds).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  errnoCode,
  errnoDescription,
  executableNotFound,
  launchError,
  quoteLikeBun,
  systemError,
} from "../src/errors.ts";
import { normalizeSpawn } from "../src/options.ts";
import { spawn, spawnSync } from "../src/index.ts";
import type { SpawnPlan } from "../src/plan.ts";

type Args = unknown[];
const modes = [
  { name: "spawn", sync: false },
  { name: "spawnSync", sync: true },
] as const;

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "forkless-options-"));
  mkdirSync(join(dir, "bin"));
  writeFileSync(join(dir, "bin", "mytool"), "#!/bin/sh\necho mytool\n");
  chmodSync(join(dir, "bin", "mytool"), 0o755);
  writeFileSync(join(dir, "junk"), "\x01\x02\x03junk");
  chmodSync(join(dir, "junk"), 0o755);
  writeFileSync(join(dir, "badshebang"), "#!/nonexistent/interpreter\n");
  chmodSync(join(dir, "badshebang"), 0o755);
  writeFileSync(join(dir, "plain"), "not executable\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What a user can observe about a thrown value. */
function shape(error: any) {
  return {
    constructor: error?.constructor?.name,
    name: error?.name,
    message: error?.message,
    code: error?.code,
    errno: error?.errno,
    syscall: error?.syscall,
    path: error?.path,
    keys: Object.keys(error ?? {}),
    string: String(error),
    isTypeError: error instanceof TypeError,
    isRangeError: error instanceof RangeError,
    isError: error instanceof Error,
  };
}

function thrown(run: () => unknown): any {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Runs the call through Bun; kills what it started so a passing call leaves nothing behind. */
function bunThrown(sync: boolean, args: Args): any {
  return thrown(() => {
    const result: any = sync ? (Bun.spawnSync as any)(...args) : (Bun.spawn as any)(...args);
    if (!sync) result.kill();
  });
}

function oursThrown(sync: boolean, args: Args): any {
  return thrown(() => normalizeSpawn(args[0], args[1], sync));
}

function expectSameAsBun(sync: boolean, args: Args) {
  const bun = bunThrown(sync, args);
  const ours = oursThrown(sync, args);
  expect(bun).toBeDefined();
  expect(shape(ours)).toEqual(shape(bun));
}

const weird = "a\"b\\c\n\t\x01\x7f\u2028\ufeff\ud800é😀\0x";
const big = 2 ** 31;

/** Inputs Bun rejects itself: forkless must throw the very same error, in the same order. */
const same_as_bun: [string, () => Args][] = [
  ["no arguments", () => []],
  ["cmd null", () => [null]],
  ["cmd undefined", () => [undefined]],
  ["cmd number", () => [123]],
  ["cmd string", () => ["true"]],
  ["cmd empty", () => [[]]],
  ["object form without cmd", () => [{}]],
  ["object form, cmd empty", () => [{ cmd: [] }]],
  ["cmd[0] with NUL", () => [["tr\0ue"]]],
  ["cmd[0] with NUL, escaped like Bun", () => [[weird]]],
  ["args[1] with NUL", () => [["true", "a\0b"]]],
  ["args[2] with NUL, raw like Bun", () => [["true", "a", weird]]],
  ["cwd with NUL", () => [["true"], { cwd: weird }]],
  ["argv0 with NUL", () => [["true"], { argv0: weird }]],
  ["env value with NUL", () => [["true"], { env: { A: weird } }]],
  ["env key with NUL", () => [["true"], { env: { [weird]: "v" } }]],
  ["env: value NUL of an earlier key wins", () => [["true"], { env: { A: "\0", ["B\0"]: "x" } }]],
  ["env: key NUL before its value NUL", () => [["true"], { env: { ["A\0"]: "\0" } }]],
  ["env value Symbol", () => [["true"], { env: { A: Symbol("s") } }]],
  ["missing executable", () => [["forkless-no-such-command"]]],
  ["missing executable, empty name", () => [[""]]],
  ["missing executable with quotes", () => [["no\"pe'x é"]]],
  ["missing executable with argv0", () => [["forkless-no-such-command"], { argv0: "true" }]],
  ["missing executable, env PATH", () => [["true"], { env: { PATH: "/nonexistent" } }]],
  ["missing executable, env without PATH", () => [["mytool"], { env: {} }]],
  ["env number", () => [["true"], { env: 5 }]],
  ["env string", () => [["true"], { env: "A=1" }]],
  ["stdio string", () => [["true"], { stdio: "pipe" }]],
  ["stdio number", () => [["true"], { stdio: 5 }]],
  ["stdio object", () => [["true"], { stdio: {} }]],
  ["stdio[0] bogus", () => [["true"], { stdio: ["bogus"] }]],
  ["stdio[1] PIPE", () => [["true"], { stdio: ["pipe", "PIPE"] }]],
  ["stdio[3] bogus", () => [["true"], { stdio: ["pipe", "pipe", "pipe", "bogus"] }]],
  ["stdin bogus", () => [["true"], { stdin: "bogus" }]],
  ["stdout bogus", () => [["true"], { stdout: "bogus" }]],
  ["stderr bogus", () => [["true"], { stderr: "bogus" }]],
  ["stdio -1", () => [["true"], { stdio: [-1] }]],
  ["stdio[3] -1", () => [["true"], { stdio: ["ignore", "ignore", "ignore", -1] }]],
  ["stdout -Infinity", () => [["true"], { stdout: -Infinity }]],
  ["stdio 2^31", () => [["true"], { stdio: [big] }]],
  ["stdio 2^31-1", () => [["true"], { stdio: [big - 1] }]],
  ["stdio Infinity", () => [["true"], { stdio: [Infinity] }]],
  ["stdio 1e21", () => [["true"], { stdio: ["ignore", 1e21] }]],
  ["stdio true", () => [["true"], { stdio: [true] }]],
  ["stdio {}", () => [["true"], { stdio: [{}] }]],
  ["stdio bigint", () => [["true"], { stdio: [1n] }]],
  ["stdio Number object", () => [["true"], { stdio: [new Number(1)] }]],
  ["stdout function", () => [["true"], { stdout: () => 1 }]],
  ["stdin 1", () => [["true"], { stdin: 1 }]],
  ["stdin 2", () => [["true"], { stdin: 2 }]],
  ["stdio[0] 2", () => [["true"], { stdio: [2] }]],
  ["stdout 0", () => [["true"], { stdout: 0 }]],
  ["stdio[2] 0", () => [["true"], { stdio: ["ignore", "pipe", 0] }]],
  ["stdin socket-fd", () => [["true"], { stdin: "socket-fd" }]],
  ["stdio[1] socket-fd", () => [["true"], { stdio: ["ignore", "socket-fd"] }]],
  ["stdout Uint8Array", () => [["true"], { stdout: new Uint8Array(1) }]],
  ["stderr ArrayBuffer", () => [["true"], { stderr: new ArrayBuffer(1) }]],
  ["stdout Blob", () => [["true"], { stdout: new Blob(["x"]) }]],
  ["stdout File", () => [["true"], { stdout: new File(["x"], "f") }]],
  ["stderr Response", () => [["true"], { stderr: new Response("x") }]],
  ["stdio[3] Blob", () => [["true"], { stdio: ["ignore", "ignore", "ignore", new Blob(["x"])] }]],
  ["stdio[4] Response", () => [["true"], { stdio: ["ignore", "ignore", "ignore", null, new Response("x")] }]],
  ["stdio[3] ReadableStream", () => [["true"], { stdio: ["ignore", "ignore", "ignore", new ReadableStream()] }]],
  ["onExit number", () => [["true"], { onExit: 5 }]],
  ["onExit string", () => [["true"], { onExit: "x" }]],
  ["onExit object", () => [["true"], { onExit: {} }]],
  ["onDisconnect number", () => [["true"], { onDisconnect: 5 }]],
  // Which error wins when there are two.
  ["argv0 NUL before cwd NUL", () => [["true"], { argv0: "\0", cwd: "\0" }]],
  ["argv0 NUL before a missing executable", () => [["forkless-no-such-command"], { argv0: "\0" }]],
  ["cwd NUL before env", () => [["true"], { cwd: "\0", env: 5 }]],
  ["cwd NUL before onExit", () => [["true"], { cwd: "\0", onExit: 5 }]],
  ["onExit before env", () => [["true"], { onExit: 5, env: 5 }]],
  ["env before stdio", () => [["true"], { env: 5, stdio: ["bogus"] }]],
  ["env NUL before a missing executable", () => [["forkless-no-such-command"], { env: { A: "\0" } }]],
  ["env before cmd empty", () => [[], { env: 5 }]],
  ["cmd empty before stdio", () => [[], { stdio: ["bogus"] }]],
  ["missing executable before args NUL", () => [["forkless-no-such-command", "\0"]]],
  ["missing executable before stdio", () => [["forkless-no-such-command"], { stdio: ["bogus"] }]],
  ["args NUL before stdio", () => [["true", "\0"], { stdio: ["bogus"] }]],
  ["stdin before stderr before stdout", () => [["true"], { stdout: "bogus", stderr: -1, stdin: 1 }]],
  ["stderr before stdout", () => [["true"], { stdout: "bogus", stderr: -1 }]],
  ["stdio before detached", () => [["true"], { stdio: ["bogus"], detached: "yes" }]],
  ["object form: second argument ignored", () => [{ cmd: ["true"], stdio: ["bogus"] }, { stdio: ["pipe"] }]],
];

/** Sync- or async-only rejections by Bun. */
const same_as_bun_sync: [string, () => Args][] = [
  ["stdio[3] socket-fd in spawnSync", () => [["true"], { stdio: ["ignore", "ignore", "ignore", "socket-fd"] }]],
  ["stdin ReadableStream in spawnSync", () => [["true"], { stdin: new ReadableStream() }]],
  ["stdout ReadableStream in spawnSync", () => [["true"], { stdout: new ReadableStream() }]],
  ["stderr ReadableStream in spawnSync", () => [["true"], { stderr: new ReadableStream() }]],
];

describe("bad input: the same error as Bun", () => {
  for (const { name, sync } of modes) {
    for (const [label, make] of same_as_bun) {
      test(`${name}: ${label}`, () => {
        // "mytool" exists only relative to this dir's bin/; the next files need our cwd back.
        const previous = process.cwd();
        process.chdir(dir);
        try {
          expectSameAsBun(sync, make());
        } finally {
          process.chdir(previous);
        }
      });
    }
  }
  for (const [label, make] of same_as_bun_sync) {
    test(`spawnSync: ${label}`, () => expectSameAsBun(true, make()));
  }
});

// ---------------------------------------------------------------------------------------------
// Values Bun converts (ToString, truncation, a boolean only): forkless converts them the same way,
// or throws what Bun throws. Each call runs through Bun and through forkless, and what a user can
// observe is compared: the error, or the child's exit code and output.

const argv_of = ["sh", "-c", 'printf "[%s]" "$0" "$@"', "sh0"];
const same_session = ["sh", "-c", '[ "$(ps -o sid= -p $$)" = "$(ps -o sid= -p $PPID)" ] && echo same || echo new'];
const to_string = (text: string) => ({ toString: () => text });
const coerced: [string, () => Args][] = [
  ["cmd elements of every type", () => [[...argv_of, 1, true, null, undefined, {}, [1, 2], 1.5, -0, 10n, to_string("X")]]],
  ["a hole in cmd", () => [[...argv_of, , "b"]]],
  ["a Symbol in cmd", () => [[...argv_of, Symbol("s")]]],
  ["a cmd element whose toString throws", () => [[...argv_of, { toString() { throw new Error("from toString"); } }]]],
  ["a cmd element whose string has a NUL", () => [[...argv_of, to_string("a\0b")]]],
  ["cmd[0] a number", () => [[1]]],
  ["cmd[0] null", () => [[null]]],
  ["cmd[0] an object", () => [[to_string("echo"), "hi"]]],
  ["cmd[0] a Symbol", () => [[Symbol("x")]]],
  ["cmd[0] an array", () => [[["echo", "x"]]]],
  ["object form: cmd a number", () => [{ cmd: 5 }]],
  ["object form: cmd false", () => [{ cmd: false }]],
  ["object form: cmd an empty object", () => [{ cmd: {} }]],
  ["object form: cmd a string", () => [{ cmd: "true" }]],
  ["object form: cmd length 0", () => [{ cmd: { length: 0 } }]],
  ["object form: cmd length 2^32", () => [{ cmd: { length: 2 ** 32 } }]],
  ["object form: cmd length -1", () => [{ cmd: { length: -1, 0: "true" } }]],
  ["object form: cmd length 1.5", () => [{ cmd: { length: 1.5, 0: "true" } }]],
  ["object form: cmd length '1'", () => [{ cmd: { length: "1", 0: "true" } }]],
  ["object form: cmd a Set", () => [{ cmd: new Set(["true", "x"]) }]],
  ["object form: cmd a Map", () => [{ cmd: new Map() }]],
  ["object form: cmd a Uint8Array", () => [{ cmd: new Uint8Array([1]) }]],
  ["object form: cmd arguments", () => [{ cmd: (function (..._: string[]) { return arguments; })("true") }]],
  ["options a string", () => [argv_of, "abc"]],
  ["options a number", () => [argv_of, 5]],
  ["options true", () => [argv_of, true]],
  ["options a function with cwd", () => [["pwd"], Object.assign(() => {}, { cwd: "/tmp" })]],
  ["options an array with cwd", () => [["pwd"], Object.assign([], { cwd: "/tmp" })]],
  ["options a String object with cwd", () => [["pwd"], Object.assign(new String("x"), { cwd: "/tmp" })]],
  ["options inherited from a prototype", () => [["pwd"], Object.create({ cwd: "/tmp" })]],
  ["argv0 a number", () => [argv_of.slice(0, 3), { argv0: 5 }]],
  ["argv0 0", () => [argv_of.slice(0, 3), { argv0: 0 }]],
  ["argv0 false", () => [argv_of.slice(0, 3), { argv0: false }]],
  ["argv0 NaN", () => [argv_of.slice(0, 3), { argv0: NaN }]],
  ["argv0 an object", () => [argv_of.slice(0, 3), { argv0: {} }]],
  ["argv0 a Symbol", () => [argv_of.slice(0, 3), { argv0: Symbol() }]],
  ["argv0 whose string has a NUL", () => [argv_of.slice(0, 3), { argv0: to_string("a\0") }]],
  ["cwd a number", () => [["pwd"], { cwd: 5 }]],
  ["cwd false", () => [["pwd"], { cwd: false }]],
  ["cwd an object", () => [["pwd"], { cwd: {} }]],
  ["cwd a URL", () => [["pwd"], { cwd: new URL("file:///tmp") }]],
  ["cwd an object naming a directory", () => [["pwd"], { cwd: to_string("/tmp") }]],
  ["cwd a Symbol", () => [["pwd"], { cwd: Symbol() }]],
  ["env an array", () => [["env"], { env: ["A=1", "B"] }]],
  ["env a function", () => [["env"], { env: Object.assign(() => {}, { X: "1" }) }]],
  ["env ''", () => [["sh", "-c", "echo $HOME"], { env: "" }]],
  ["env values of every type", () => [["env"], { env: { A: {}, B: 1, C: null, D: true, E: [1, 2] } }]],
  ["detached 'yes'", () => [same_session, { detached: "yes" }]],
  ["detached 1", () => [same_session, { detached: 1 }]],
  ["detached true", () => [same_session, { detached: true }]],
  ["lazy 'yes'", () => [argv_of, { lazy: "yes" }]],
  ["signal ''", () => [argv_of, { signal: "" }]],
  ["onExit ''", () => [argv_of, { onExit: "" }]],
  ["onDisconnect ''", () => [argv_of, { onDisconnect: "" }]],
  ["stdout 1.5 (fd 1)", () => [["true"], { stdout: 1.5 }]],
  ["stdout NaN (fd 0)", () => [["true"], { stdout: NaN }]],
  ["stdin 1.5 (fd 1)", () => [["true"], { stdin: 1.5 }]],
  ["stdin -0.5 (fd 0)", () => [["true"], { stdin: -0.5 }]],
  ["stdio[3] 1.5 (fd 1)", () => [["true"], { stdio: ["ignore", "ignore", "ignore", 1.5] }]],
  ["terminal false", () => [["true"], { terminal: false }]],
];

/** The error, or the child's exit code and output (spawn: read to the end, then exited). */
async function observe(run: () => any, sync: boolean): Promise<unknown> {
  let result: any;
  try {
    result = run();
  } catch (error) {
    return shape(error);
  }
  if (sync) return { exitCode: result.exitCode, stdout: result.stdout?.toString() ?? null };
  const stdout = result.stdout instanceof ReadableStream ? await new Response(result.stdout).text() : null;
  return { exitCode: await result.exited, stdout };
}

describe("values Bun converts: converted the same way", () => {
  for (const { name, sync } of modes) {
    for (const [label, make] of coerced) {
      test(`${name}: ${label}`, async () => {
        const bun = await observe(() => (sync ? (Bun.spawnSync as any)(...make()) : (Bun.spawn as any)(...make())), sync);
        const ours = await observe(() => (sync ? (spawnSync as any)(...make()) : (spawn as any)(...make())), sync);
        expect(ours).toEqual(bun);
      });
    }
  }
});

describe("options that are absent, ignored or unknown", () => {
  test("null and undefined mean absent, as in Bun", () => {
    const options = { timeout: null, killSignal: undefined, signal: null, maxBuffer: null, ipc: null, terminal: null, uid: null, gid: null, lazy: null, cgroup: null, deathSignal: null, serialization: null };
    expect(bunThrown(true, [["true"], options])).toBeUndefined();
    expect(oursThrown(true, [["true"], options])).toBeUndefined();
  });
  test("windowsHide, windowsVerbatimArguments and unknown keys are ignored, as in Bun", () => {
    const options = { windowsHide: 5, windowsVerbatimArguments: "x", bogusKey: 1, onDisconnect() {} };
    for (const { sync } of modes) {
      expect(bunThrown(sync, [["true"], options])).toBeUndefined();
      expect(oursThrown(sync, [["true"], options])).toBeUndefined();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Good input: the plan against what Bun's child sees.

function plan(args: Args, sync = true): SpawnPlan {
  return normalizeSpawn(args[0], args[1], sync).plan;
}

function bunEnviron(options: object): string[] {
  const result = Bun.spawnSync(["cat", "/proc/self/environ"], options as any);
  const entries = result.stdout.toString().split("\0");
  entries.pop();
  return entries;
}

describe("environment", () => {
  test("default: exactly the environment Bun gives its children, in order", () => {
    expect(plan([["cat", "/proc/self/environ"]]).envp).toEqual(bunEnviron({}));
  });
  test("default ignores later writes to process.env, as Bun does", () => {
    process.env.FORKLESS_LATE_WRITE = "1";
    try {
      expect(bunEnviron({}).some((entry) => entry.startsWith("FORKLESS_LATE_WRITE="))).toBe(false);
      expect(plan([["true"]]).envp).toEqual(bunEnviron({}));
    } finally {
      delete process.env.FORKLESS_LATE_WRITE;
    }
  });
  test("conversion of values and key order match Bun", () => {
    const env = { B: "1", A: 1, U: undefined, N: null, O: { x: 1 }, T: true, F: [1, 2], "": "empty", "K=V": "eq", 10: "ten", 2: "two", S: { toString: () => "str", valueOf: () => "val" }, PATH: "/usr/bin" };
    expect(plan([["cat"], { env }]).envp).toEqual(bunEnviron({ env }));
  });
  test("own enumerable keys only, getters read", () => {
    const env = Object.defineProperty(Object.assign(Object.create({ INHERITED: "1" }), { OWN: "2", get G() { return "g"; } }), "HIDDEN", { value: "3", enumerable: false });
    expect(plan([["cat"], { env }]).envp).toEqual(bunEnviron({ env }));
  });
  test("env: null and undefined mean the default", () => {
    expect(plan([["true"], { env: null }]).envp).toEqual(plan([["true"]]).envp);
    expect(plan([["true"], { env: undefined }]).envp).toEqual(plan([["true"]]).envp);
  });
});

describe("executable resolution", () => {
  test("a bare name is looked up in the startup PATH", () => {
    expect(plan([["true"]]).file).toBe(Bun.which("true")!);
  });
  test("PATH comes from env when env is given, relative entries against cwd", () => {
    const p = plan([["mytool", "a"], { env: { PATH: "bin" }, cwd: dir }]);
    expect(p.file).toBe(join(dir, "bin", "mytool"));
    expect(Bun.spawnSync(["mytool", "a"], { env: { PATH: "bin" }, cwd: dir }).stdout.toString()).toBe("mytool\n");
  });
  test("env without PATH still finds /usr/bin programs, as Bun does", () => {
    expect(plan([["true"], { env: {} }]).file).toBe("/usr/bin/true");
    expect(bunThrown(true, [["true"], { env: {} }])).toBeUndefined();
  });
  test("a name with a slash is used as is, relative to cwd", () => {
    expect(plan([["bin/mytool"], { cwd: dir }]).file).toBe("bin/mytool");
    expect(plan([["./nope"]]).file).toBe("./nope");
    expect(Bun.spawnSync(["bin/mytool"], { cwd: dir }).stdout.toString()).toBe("mytool\n");
  });
  test("argv0 replaces argv[0] only; the command reported in errors is argv[0]", () => {
    const request = normalizeSpawn(["sh", "-c", "echo $0", "x"], { argv0: "renamed" }, true);
    expect(request.plan.argv).toEqual(["renamed", "-c", "echo $0", "x"]);
    expect(request.plan.file).toBe(Bun.which("sh")!);
    expect(request.command).toBe("renamed");
    expect(Bun.spawnSync(["sh", "-c", "echo $0"], { argv0: "renamed" }).stdout.toString()).toBe("renamed\n");
    expect(plan([["true"], { argv0: "" }]).argv).toEqual(["true"]);
  });
  test("object form and the other fields", () => {
    const onExit = () => {};
    const request = normalizeSpawn({ cmd: ["echo", "hi"], cwd: "/tmp", detached: true, onExit }, undefined, false);
    expect(request.plan).toMatchObject({ argv: ["echo", "hi"], cwd: "/tmp", detached: true });
    expect(request.onExit).toBe(onExit);
    expect(request.command).toBe("echo");
    expect(normalizeSpawn(["true"], { cwd: "", detached: false, onExit: null }, false)).toMatchObject({ plan: { cwd: "", detached: false }, onExit: undefined });
  });
});

// The child's fds 0..5 as seen from outside: find(1) lists the shell's /proc/<pid>/fd and writes
// the list to a file it opens itself, so no shell redirection disturbs what is being listed.
const fd_probe = 'find /proc/$$/fd -mindepth 1 -maxdepth 1 -fprintf "$OUT" "%f %l\\n"; true';

async function bunFds(sync: boolean, options: Record<string, unknown>): Promise<string[]> {
  const out = join(dir, `fds-${Math.random()}`);
  const args = ["sh", "-c", fd_probe];
  const all = { ...options, env: { OUT: out } };
  if (sync) Bun.spawnSync(args, all as any);
  else await (Bun.spawn(args, all as any) as any).exited;
  const seen = new Map<number, string>();
  for (const line of (await Bun.file(out).text()).trim().split("\n")) {
    const space = line.indexOf(" ");
    seen.set(Number(line.slice(0, space)), line.slice(space + 1));
  }
  rmSync(out);
  return [0, 1, 2, 3, 4, 5].map((fd) => seen.get(fd) ?? "none");
}

function describeSlot(slot: SpawnPlan["slots"][number] | undefined): string {
  if (slot === null || slot === undefined) return "none";
  if (slot.kind === "ignore") return "/dev/null";
  if (slot.kind === "pipe") return "socket";
  try {
    return readlinkSync(`/proc/self/fd/${slot.fd}`);
  } catch {
    return "none"; // inheriting an fd the parent does not have leaves nothing there
  }
}

describe("stdio slots match the child's fds under Bun", () => {
  const extra = () => {
    const fd = require("node:fs").openSync("/etc/hostname", "r") as number;
    return fd;
  };
  const layouts: [string, (fd: number) => Record<string, unknown>][] = [
    ["defaults", () => ({})],
    ["stdin/stdout/stderr", () => ({ stdin: "pipe", stdout: "inherit", stderr: "ignore" })],
    ["null means ignore", () => ({ stdout: null, stderr: null })],
    ["undefined means default", () => ({ stdout: undefined, stderr: undefined })],
    ["stdio wins over stdout", () => ({ stdio: ["ignore", "ignore", "pipe"], stdout: "pipe" })],
    ["stdio: null keeps defaults and ignores stdout", () => ({ stdio: null, stdout: "ignore" })],
    ["stdio: [] keeps defaults", () => ({ stdio: [], stdout: "ignore" })],
    ["holes and undefined keep defaults", () => ({ stdio: [, undefined, "inherit"] })],
    ["extras: pipe, null, inherit", () => ({ stdio: ["ignore", "pipe", "pipe", "pipe", null, "inherit"] })],
    ["extras: fd, ignore, fd 1", (fd) => ({ stdio: ["ignore", "pipe", "pipe", fd, "ignore", 1] })],
    ["spawnSync's pipe stdin is /dev/null", () => ({ stdio: ["pipe", "pipe", "pipe"] })],
    ["extras: undefined, ignore", () => ({ stdio: ["ignore", "pipe", "pipe", undefined, "ignore"] })],
    ["fd numbers in 0..2", (fd) => ({ stdin: fd, stdout: 2, stderr: 1 })],
  ];
  for (const { name, sync } of modes) {
    for (const [label, make] of layouts) {
      test(`${name}: ${label}`, async () => {
        const fd = extra();
        try {
          const options = make(fd);
          const seen = await bunFds(sync, options);
          const slots = plan([["sh"], options], sync).slots;
          const predicted = [0, 1, 2, 3, 4, 5].map((i) => describeSlot(slots[i]));
          // A "pipe" slot is a fresh socket (its inode unknown here); an inherited fd is ours,
          // compared exactly (the runner's own stdout may be a socket too: node's pipes are).
          expect(seen.map((line, i) => (predicted[i] === "socket" && line.startsWith("socket:") ? "socket" : line))).toEqual(predicted);
        } finally {
          require("node:fs").closeSync(fd);
        }
      });
    }
  }
  test("fd 0 at an extra index: the user's fd 0 (Bun 1.4.5 passes its own fd 3 instead: a Bun bug)", async () => {
    const seen = await bunFds(true, { stdio: ["ignore", "pipe", "pipe", 0] });
    expect(seen[3]).toBe(describeSlot({ kind: "inherit", fd: 3 })); // what Bun does
    expect(plan([["true"], { stdio: ["ignore", "pipe", "pipe", 0] }]).slots[3]).toEqual({ kind: "fd", fd: 0 });
  });
  test("plan shapes", () => {
    expect(plan([["true"]], false).slots).toEqual([{ kind: "ignore", fd: -1 }, { kind: "pipe", fd: -1 }, { kind: "inherit", fd: 2 }]);
    expect(plan([["true"]], true).slots).toEqual([{ kind: "ignore", fd: -1 }, { kind: "pipe", fd: -1 }, { kind: "pipe", fd: -1 }]);
    expect(plan([["true"], { stdio: ["inherit", 5, 2, -0, "inherit", "ignore", null, "pipe", undefined] }]).slots).toEqual([
      { kind: "inherit", fd: 0 }, { kind: "fd", fd: 5 }, { kind: "fd", fd: 2 }, { kind: "fd", fd: 0 }, { kind: "inherit", fd: 4 }, null, null, { kind: "pipe", fd: -1 }, null,
    ]);
    expect(Object.is(plan([["true"], { stdio: ["ignore", "ignore", "ignore", -0] }]).slots[3]!.fd, 0)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// errors.ts against the errors Bun throws at launch time.

describe("launch errors look like Bun's", () => {
  const cases: [string, () => Args, number, number, string][] = [
    ["missing cwd", () => [["true"], { cwd: "/nonexistent" }], 1, 2, "true"],
    ["missing cwd with argv0", () => [["true"], { cwd: "/nonexistent", argv0: "foo" }], 1, 2, "foo"],
    ["cwd is a file", () => [["true"], { cwd: "/etc/passwd" }], 1, 20, "true"],
    ["non-executable file", () => [[join(dir, "plain")]], 2, 13, "<dir>/plain"],
    ["directory", () => [["/etc"]], 2, 13, "/etc"],
    ["directory with argv0", () => [["/etc"], { argv0: "foo" }], 2, 13, "foo"],
    ["missing absolute path", () => [["/nonexistent/x"]], 2, 2, "/nonexistent/x"],
    ["missing ./relative path", () => [["./nonexistent"], { cwd: dir }], 2, 2, "./nonexistent"],
    ["missing interpreter", () => [["./badshebang"], { cwd: dir }], 2, 2, "./badshebang"],
    ["exec format error", () => [["./junk"], { cwd: dir }], 2, 8, "./junk"],
  ];
  for (const { name, sync } of modes) {
    for (const [label, make, stage, errno, command] of cases) {
      test(`${name}: ${label}`, () => {
        const args = make();
        const bun = bunThrown(sync, args);
        expect(bun).toBeDefined();
        const request = normalizeSpawn(args[0], args[1], sync); // these are found only at launch
        expect(request.command).toBe(command.replace("<dir>", dir));
        const ours = launchError(stage, errno, request.command, request.plan.file);
        expect(shape(ours)).toEqual(shape(bun));
        expect(Object.getOwnPropertyNames(ours).slice(0, 5)).toEqual(Object.getOwnPropertyNames(bun).slice(0, 5));
        // Bun.inspect without the source excerpt and stack, which differ by construction.
        const head = (error: unknown) =>
          Bun.inspect(error).split("\n").filter((line) => !/^\s*(\d+ \||\^|at )/.test(line) && line.trim() !== "").join("\n");
        expect(head(ours)).toEqual(head(bun));
      });
    }
  }
  test("missing executable: same fields and inspection as Bun", () => {
    const bun = bunThrown(true, [["forkless-no-such-command"]]);
    const ours = executableNotFound("forkless-no-such-command");
    expect(shape(ours)).toEqual(shape(bun));
    expect(Object.getOwnPropertyNames(ours).slice(0, 4)).toEqual(Object.getOwnPropertyNames(bun).slice(0, 4));
  });
  test("resource exhaustion (stage 3) as probed: EMFILE on socketpair has no path", () => {
    expect(shape(launchError(3, 24, "true", "/usr/bin/true"))).toMatchObject({
      message: "EMFILE: too many open files, socketpair", code: "EMFILE", errno: -24, syscall: "socketpair", path: undefined, keys: ["code", "syscall", "errno"],
    });
    expect(shape(launchError(3, 11, "true", "/usr/bin/true"))).toMatchObject({
      message: "EAGAIN: resource temporarily unavailable, posix_spawn 'true'", code: "EAGAIN", errno: -11, syscall: "posix_spawn", path: "true", keys: ["code", "path", "syscall", "errno"],
    });
  });
  test("errno table: Bun's names, quirks included, and libuv's descriptions", () => {
    expect([errnoCode(1), errnoCode(2), errnoCode(11), errnoCode(41), errnoCode(58), errnoCode(95), errnoCode(133)]).toEqual(["EPERM", "ENOENT", "EAGAIN", "EWOULDBLOCK", "EDEADLOCK", "ENOTSUP", "EHWPOISON"]);
    expect(errnoDescription(8)).toBe("unknown error");
    expect(errnoDescription(24)).toBe("too many open files");
    expect(errnoDescription(95)).toBe("operation not supported on socket");
    expect(systemError(2, "posix_spawn", "").message).toBe("ENOENT: no such file or directory, posix_spawn");
  });
  test("quoteLikeBun escapes what Bun escapes", () => {
    expect(quoteLikeBun("a\"b\\c\n\t\b\f\r\x01\x1f\x7f\u2028\u2029\ufeff\ud800😀é")).toBe('"a\\"b\\\\c\\n\\t\\b\\f\\r\\u0001\\u001F\x7f\\u2028\\u2029\\uFEFF\ufffd😀é"');
  });
});

// ---------------------------------------------------------------------------------------------
// The real entry points: the same errors must come out of forkless's spawn/spawnSync.

describe("through src/index.ts", () => {
  const cases: [string, () => Args][] = [
    ["cmd empty", () => [[]]],
    ["stdio bogus", () => [["true"], { stdio: ["bogus"] }]],
    ["missing executable", () => [["forkless-no-such-command"]]],
    ["argv0 with NUL", () => [["true"], { argv0: "\0" }]],
    ["missing cwd", () => [["true"], { cwd: "/nonexistent" }]],
    ["directory", () => [["/etc"]]],
  ];
  for (const { name, sync } of modes) {
    for (const [label, make] of cases) {
      test(`${name}: ${label}`, async () => {
        const forkless: any = await import("../src/index.ts");
        const args = make();
        const ours = thrown(() => {
          const result = forkless[name](...args);
          if (!sync) result.kill();
        });
        expect(shape(ours)).toEqual(shape(bunThrown(sync, args)));
      });
    }
  }
});
