// The shared harness of the differential tests: run one scenario through Bun.spawn and through
// forkless, and read what a user (or the kernel, through /proc) can observe of the result.
// It asserts nothing itself; the tests compare. bun:ffi is used here only to reach libc the way
// a native library inside the user's program would (open without O_CLOEXEC, signal masks).
import { dlopen, ptr, type Pointer } from "bun:ffi";
import { chmodSync, copyFileSync, cpSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { spawn as forklessSpawn, spawnSync as forklessSpawnSync } from "../src/index.ts";

export type AnySpawn = (...args: any[]) => any;

/** The two implementations under comparison, Bun first: Bun is the oracle. */
export const implementations: readonly (readonly [string, AnySpawn, AnySpawn])[] = [
  ["Bun.spawn", Bun.spawn as AnySpawn, Bun.spawnSync as AnySpawn],
  ["forkless", forklessSpawn as AnySpawn, forklessSpawnSync as AnySpawn],
];

export interface Pair<T> {
  bun: T;
  forkless: T;
}

/** Runs the scenario through Bun.spawn, then through forkless (one after the other, not mixed). */
export async function both<T>(scenario: (spawn: AnySpawn, name: string) => Promise<T> | T): Promise<Pair<T>> {
  const bun = await scenario(Bun.spawn as AnySpawn, "Bun.spawn");
  const forkless = await scenario(forklessSpawn as AnySpawn, "forkless");
  return { bun, forkless };
}

/** The same for spawnSync. */
export function bothSync<T>(scenario: (spawnSync: AnySpawn, name: string) => T): Pair<T> {
  return {
    bun: scenario(Bun.spawnSync as AnySpawn, "Bun.spawnSync"),
    forkless: scenario(forklessSpawnSync as AnySpawn, "forkless"),
  };
}

/** Everything a caller can read off a thrown error, in a form toEqual can compare. */
export interface ErrorShape {
  class: string;
  name: string;
  code: unknown;
  errno: unknown;
  syscall: unknown;
  path: unknown;
  message: string;
  ownKeys: string[];
  string: string;
}

export function errorShape(error: unknown): ErrorShape {
  const e = error as Error & Record<string, unknown>;
  return {
    class: e?.constructor?.name,
    name: e.name,
    code: e.code,
    errno: e.errno,
    syscall: e.syscall,
    path: e.path,
    message: e.message,
    ownKeys: Object.keys(e),
    string: String(e),
  };
}

/** Calls fn; returns the shape of what it threw synchronously, or "returned". */
export function thrownBy(fn: () => unknown): ErrorShape | "returned" {
  let result: unknown;
  try {
    result = fn();
  } catch (error) {
    return errorShape(error);
  }
  // A launch that did not throw may still have a child running: do not leave it behind.
  const child = result as { kill?: () => void } | undefined;
  if (child && typeof child.kill === "function") {
    try {
      child.kill();
    } catch {}
  }
  return "returned";
}

/** A type tag for a field value: "undefined", "null", "number", or the constructor's name. */
export function kind(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  if (typeof value !== "object" && typeof value !== "function") return typeof value;
  return (value as object).constructor?.name ?? "Object";
}

// ---------------------------------------------------------------------------------------------
// /proc

/** The fd numbers open in this process now. */
export function openFds(): number[] {
  return readdirSync("/proc/self/fd").map(Number).sort((a, b) => a - b);
}

/** What each open fd of this process points at, for a readable diff when a leak shows up. */
export function openFdTargets(): Map<number, string> {
  const targets = new Map<number, string>();
  for (const fd of openFds()) {
    try {
      targets.set(fd, readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the directory listing's own fd is gone by now
    }
  }
  return targets;
}

export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
}

/** Parses /proc/<pid>/stat text (comm may hold spaces and parentheses: split after the last ')'). */
export function parseStat(text: string): ProcStat {
  const pid = Number(text.slice(0, text.indexOf(" ")));
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { pid, state: rest[0]!, ppid: Number(rest[1]), pgrp: Number(rest[2]), session: Number(rest[3]) };
}

/** Children of `ppid` in zombie state: ended, never reaped. */
export function zombiesOf(ppid: number): number[] {
  const zombies: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: ProcStat;
    try {
      stat = parseStat(readFileSync(`/proc/${entry}/stat`, "latin1"));
    } catch {
      continue; // gone between readdir and read
    }
    if (stat.ppid === ppid && stat.state === "Z") zombies.push(stat.pid);
  }
  return zombies;
}

/** /proc/<pid>/<name> as text, or "" once the process is gone. */
export function readProc(pid: number, name: string): string {
  try {
    return readFileSync(`/proc/${pid}/${name}`, "utf8");
  } catch {
    return "";
  }
}

/** Is `pid` a live (not zombie) process right now? */
export function isAlive(pid: number): boolean {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, "latin1")).state !== "Z";
  } catch {
    return false;
  }
}

/** The Sig* masks of a /proc/<pid>/status text, as bigints. */
export function signalMasks(status: string): { SigBlk: bigint; SigIgn: bigint; SigCgt: bigint } {
  const field = (name: string) => {
    const line = status.split("\n").find((l) => l.startsWith(`${name}:`));
    if (line === undefined) throw new Error(`no ${name} in status:\n${status}`);
    return BigInt(`0x${line.slice(name.length + 1).trim()}`);
  };
  return { SigBlk: field("SigBlk"), SigIgn: field("SigIgn"), SigCgt: field("SigCgt") };
}

/** One line of `ls -l /proc/self/fd`: fd number, access mode from the link's permission bits, target. */
export interface FdEntry {
  fd: number;
  mode: "r" | "w" | "rw";
  target: string;
}

/**
 * Parses `ls -l /proc/self/fd` run in the child. ls itself holds exactly one extra fd while it
 * lists, the directory it reads (target /proc/<its pid>/fd): that entry is dropped, nothing else.
 */
export function parseFdListing(listing: string): FdEntry[] {
  const entries: FdEntry[] = [];
  for (const line of listing.split("\n")) {
    const match = /^l(r|-)(w|-)x?\S*\s.*\s(\d+) -> (.*)$/.exec(line);
    if (!match) continue;
    const [, r, w, fd, target] = match;
    if (/^\/proc\/\d+\/fd$/.test(target!)) continue;
    entries.push({ fd: Number(fd), mode: r === "r" && w === "w" ? "rw" : r === "r" ? "r" : "w", target: target! });
  }
  return entries.sort((a, b) => a.fd - b.fd);
}

export const listFdsCommand = ["ls", "-l", "/proc/self/fd"];

// ---------------------------------------------------------------------------------------------
// Fixtures: small programs run as child processes of the test (through Bun.spawn, the oracle).

export const projectRoot = new URL("../", import.meta.url).pathname;

/** chdir to the project root: a child without `cwd` starts where we are, so be somewhere real. */
export function enterProjectRoot(): void {
  process.chdir(projectRoot);
}

export const fixturesDir = new URL("./fixtures/", import.meta.url).pathname;
export const bunPath = process.execPath;

/**
 * A world-readable copy of what `bun <fixture>` needs, for a fixture run as another user (nobody):
 * the checkout may sit in a private directory (mode 0700, as `mktemp -d` makes) that such a user
 * cannot enter. The copy holds bun itself (a hard link where it can be), src/, typebox, the built
 * engine, test/oracle.ts and the named fixtures; `dispose()` removes it.
 */
export function worldReadableProject(fixtures: string[]): { root: string; bun: string; fixture: (name: string) => string; dispose: () => void } {
  // /tmp rather than $TMPDIR: a private TMPDIR would hide the copy just the same.
  const root = mkdtempSync("/tmp/forkless-shared-");
  chmodSync(root, 0o755);
  const copy = (relative: string) => {
    mkdirSync(dirname(join(root, relative)), { recursive: true });
    cpSync(join(projectRoot, relative), join(root, relative), { recursive: true });
  };
  for (const relative of ["package.json", "src", "node_modules/typebox", "zig/zig-out", "test/oracle.ts"]) copy(relative);
  for (const name of fixtures) copy(`test/fixtures/${name}`);
  const bun = join(root, "bun");
  try {
    linkSync(process.execPath, bun);
  } catch {
    copyFileSync(process.execPath, bun); // another filesystem
  }
  chmodSync(bun, 0o755);
  // Directories the copy made inherit our umask; open every one of them to others.
  const open = (dir: string) => {
    chmodSync(dir, 0o755);
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) open(join(dir, entry.name));
  };
  open(root);
  return { root, bun, fixture: (name) => join(root, "test/fixtures", name), dispose: () => rmSync(root, { recursive: true, force: true }) };
}

export interface ProgramResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signalCode: Bun.Subprocess["signalCode"];
}

/** Runs `bun fixtures/<name> ...args` and waits for it; `stdin` is written then closed. */
export async function runFixture(name: string, args: string[], stdin?: string): Promise<ProgramResult> {
  const child = Bun.spawn([bunPath, `${fixturesDir}${name}`, ...args], {
    stdin: stdin === undefined ? "ignore" : "pipe",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, FORKLESS_FIXTURE: "1" },
  });
  if (stdin !== undefined) {
    child.stdin!.write(stdin);
    await child.stdin!.end();
  }
  const [stdout, stderr] = await Promise.all([child.stdout.text(), child.stderr.text()]);
  await child.exited;
  return { stdout, stderr, exitCode: child.exitCode, signalCode: child.signalCode };
}

// ---------------------------------------------------------------------------------------------
// libc, as a native library loaded into the user's program would call it.

const libc = dlopen("libc.so.6", {
  open: { args: ["ptr", "i32"], returns: "i32" },
  dup2: { args: ["i32", "i32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  fcntl: { args: ["i32", "i32", "i32"], returns: "i32" },
  signal: { args: ["i32", "ptr"], returns: "ptr" },
  pthread_sigmask: { args: ["i32", "ptr", "ptr"], returns: "i32" },
  prctl: { args: ["i32", "u64", "u64", "u64", "u64"], returns: "i32" },
});

const F_GETFD = 1;
const FD_CLOEXEC = 1;
export const SIG_BLOCK = 0;
export const SIG_SETMASK = 2;

/** open(path, O_RDONLY) with no O_CLOEXEC: an fd every fork+exec would leak by default. */
export function openInheritable(path: string): number {
  const fd = libc.symbols.open(ptr(Buffer.from(`${path}\0`)), 0);
  if (fd < 0) throw new Error(`open(${path}) failed`);
  return fd;
}

/** dup2(from, to): `to` is inheritable (dup2 never sets FD_CLOEXEC). */
export function dup2(from: number, to: number): number {
  const fd = libc.symbols.dup2(from, to);
  if (fd !== to) throw new Error(`dup2(${from}, ${to}) failed`);
  return fd;
}

export function closeFd(fd: number): void {
  libc.symbols.close(fd);
}

export function isCloexec(fd: number): boolean {
  return (libc.symbols.fcntl(fd, F_GETFD, 0) & FD_CLOEXEC) !== 0;
}

/** signal(sig, handler) where handler is SIG_DFL (0) or SIG_IGN (1); returns the previous one
 * (bun:ffi returns a "ptr" as a Pointer, a bigint or null). */
export function setDisposition(signal: number, handler: 0 | 1 | Pointer | bigint | null): Pointer | bigint | null {
  return libc.symbols.signal(signal, handler as Pointer | bigint | null);
}

/** pthread_sigmask on the calling (JS) thread; returns the previous mask (signals 1–64). */
export function threadSigmask(how: number, mask: bigint): bigint {
  const set = new BigUint64Array(16); // sigset_t is 128 bytes in glibc
  set[0] = mask;
  const old = new BigUint64Array(16);
  const rc = libc.symbols.pthread_sigmask(how, ptr(set), ptr(old));
  if (rc !== 0) throw new Error(`pthread_sigmask failed: ${rc}`);
  return old[0]!;
}

/** The mask bit of a signal number, as /proc/<pid>/status shows it. */
export function bit(signal: number): bigint {
  return 1n << BigInt(signal - 1);
}

/** prctl(PR_GET_DUMPABLE) of this process: 1 normally; 0 bars core dumps, ptrace and perf. */
export function dumpable(): number {
  const PR_GET_DUMPABLE = 3;
  return libc.symbols.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
}
