// The only file that imports bun:ffi: loads the engine, checks its ABI version, encodes one
// request buffer per spawn and decodes what comes back. No pointer outlives the call it was
// passed to; the engine copies what it keeps.
import { dlopen, JSCallback, ptr, read, toArrayBuffer, type Pointer } from "bun:ffi";
import { existsSync } from "node:fs";
import { engine } from "./engine.ts";
import type { ChildSetup, SlotKind, SpawnPlan } from "./plan.ts";
import type { Limits } from "./limits.ts";

const ABI_VERSION = 2;

const engineSymbols = {
  forkless_init: { args: ["ptr"], returns: "u32" },
  forkless_spawn: { args: ["ptr", "usize", "ptr"], returns: "i32" },
  // The last three: timeout ms, maxBuffer bytes, kill signal (limits.ts; 0 = no limit).
  forkless_spawn_sync: { args: ["ptr", "usize", "ptr", "ptr", "u64", "u64", "i32"], returns: "i32" },
  forkless_kill: { args: ["u32", "i32"], returns: "i32" },
  forkless_drain: { args: ["ptr", "u32"], returns: "u32" },
  forkless_free: { args: ["ptr"], returns: "void" },
  forkless_template_create: { args: ["ptr", "usize", "ptr"], returns: "usize" },
  forkless_template_spawn: { args: ["usize", "ptr", "usize", "ptr"], returns: "i32" },
  forkless_template_spawn_sync: { args: ["usize", "ptr", "usize", "ptr", "ptr", "u64", "u64", "i32"], returns: "i32" },
  forkless_template_close: { args: ["usize"], returns: "void" },
  // The container (src/container.ts): a session is one helper process.
  forkless_container_open: { args: ["ptr", "i32", "ptr"], returns: "i32" },
  forkless_container_spawn: { args: ["u32", "ptr", "usize", "ptr"], returns: "i32" },
  forkless_container_spawn_sync: { args: ["u32", "ptr", "usize", "ptr", "ptr", "u64", "u64", "i32"], returns: "i32" },
  forkless_container_control: { args: ["u32", "u32", "i32"], returns: "i32" },
  forkless_container_release: { args: ["u32"], returns: "void" },
} as const;

/** What every engine call meets on a platform without a native engine (see fallback.ts): only
 * spawn, spawnSync and templates fall back to Bun's; the rest refuse, clearly. */
function unavailable<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get() {
      throw new Error(`forkless: ${what} needs the native engine, which ${engine.kind === "bun" ? engine.reason : "is not loaded"}; on ${engine.platform} only spawn, spawnSync, spawnAndWait and templates work, through Bun's own spawn`);
    },
  });
}

const native = engine.kind === "native" ? dlopen(engine.library, engineSymbols).symbols : unavailable<ReturnType<typeof dlopen<typeof engineSymbols>>["symbols"]>("this call");

/** One ended child, as the reaper reports it. */
export interface Completion {
  id: number;
  pid: number;
  exitCode: number | null;
  signal: number;
  /** A launch failure found after spawn() returned: stage (see abi.zig Stage) and errno. */
  stage: number;
  errno: number;
  rusage: BigInt64Array;
}

type CompletionHandler = (c: Completion) => void;
let onCompletion: CompletionHandler = () => {};

const COMPLETION_BYTES = 168;
const DRAIN_BATCH = 64;
const drainBuffer = new ArrayBuffer(COMPLETION_BYTES * DRAIN_BATCH);
const drainI32 = new Int32Array(drainBuffer);
const drainBytes = new Uint8Array(drainBuffer);

function drain(): void {
  for (;;) {
    const n = native.forkless_drain(drainBytes, DRAIN_BATCH);
    for (let i = 0; i < n; i++) {
      const base = (i * COMPLETION_BYTES) / 4;
      const exitCode = drainI32[base + 2]!;
      onCompletion({
        id: drainI32[base]! >>> 0,
        pid: drainI32[base + 1]!,
        exitCode: exitCode < 0 ? null : exitCode,
        signal: drainI32[base + 3]!,
        stage: drainI32[base + 4]!,
        errno: drainI32[base + 5]!,
        rusage: new BigInt64Array(drainBuffer.slice(i * COMPLETION_BYTES + 24, (i + 1) * COMPLETION_BYTES)),
      });
    }
    if (n < DRAIN_BATCH) return;
  }
}

// The main thread hears of exits through a callback (called on the reaper thread; Bun queues it
// onto the JS thread). A Worker polls instead: it can be terminated without running any JS, and
// the engine calling into its gone VM would crash the process (zig/src/exports.zig, listener).
const notify = engine.kind === "native" && Bun.isMainThread ? new JSCallback(drain, { args: [], returns: "void", threadsafe: true }) : undefined;

if (engine.kind === "native") {
  const version = native.forkless_init(notify?.ptr ?? null);
  if (version === 0xffffffff) {
    notify?.close();
    throw new Error(
      "forkless: already loaded by another thread of this process (a Worker or the main thread); the engine reports exits to one JS thread, so launch every child from that one",
    );
  }
  if (version !== ABI_VERSION) {
    throw new Error(
      `forkless: the engine at ${engine.library} (from ${engine.source}) speaks ABI ${version}, this forkless speaks ${ABI_VERSION} (or the engine could not start); install the platform package at forkless's own version, or rebuild with \`npm run build\``,
    );
  }
}

export function setCompletionHandler(handler: CompletionHandler): void {
  onCompletion = handler;
}

/** How often a Worker looks for exits while it has children: its exit latency, at most. */
const POLL_MS = 2;
let awaited = 0;
let poll: ReturnType<typeof setInterval> | undefined;

/**
 * One more (+1) or one fewer (-1) child whose completion this thread waits for. Only a polling
 * thread (a Worker) does anything with it: it drains while any is awaited. The interval is
 * unref'd: what keeps the program alive for a ref'd child is the caller's business (subprocess.ts).
 */
export function awaitCompletions(delta: 1 | -1): void {
  if (notify) return;
  awaited += delta;
  if (awaited > 0 && poll === undefined) poll = setInterval(drain, POLL_MS).unref();
  else if (awaited === 0 && poll !== undefined) {
    clearInterval(poll);
    poll = undefined;
  }
}

const SLOT_CODES: Record<SlotKind, number> = { inherit: 1, ignore: 2, pipe: 3, fd: 4 };
const FLAG_DETACHED = 1;
const FLAG_CWD = 2;
const FLAG_CTTY = 4;
const FLAG_UID = 8;
const FLAG_GID = 16;
const FLAG_CGROUP_FD = 32;
const FLAG_CGROUP_PATH = 64;
const FLAG_KEEP_NOFILE = 128;
const HEADER_BYTES = 40;
const RLIMIT_BYTES = 24;
let request = new Uint8Array(64 * 1024);
let requestView = new DataView(request.buffer);
let requestText = Buffer.from(request.buffer);

// The default environment is one shared array for every spawn that gives no `env`: join it once.
let lastEnvp: readonly string[] | undefined;
let lastEnvText = "";

function joined(strings: readonly string[]): string {
  return strings.length === 0 ? "" : strings.join("\0") + "\0";
}

/** Encodes the plan into the shared request buffer; returns its length in bytes. Layout (abi.zig
 * RequestHeader): header, slots, rlimits, then file, cwd?, cgroup path?, argv, envp. */
function encode(plan: SpawnPlan): number {
  const slots = plan.slots;
  const setup = plan.setup;
  if (plan.envp !== lastEnvp) {
    lastEnvp = plan.envp;
    lastEnvText = joined(plan.envp);
  }
  const cgroupPath = setup?.cgroupPath ? setup.cgroupPath + "\0" : "";
  // One string, one UTF-8 write: cheaper than a write per string (options.ts rejected NULs).
  const text = plan.file + "\0" + (plan.cwd ? plan.cwd + "\0" : "") + cgroupPath + joined(plan.argv) + lastEnvText;
  const rlimitCount = setup ? setup.rlimits.length : 0;
  const start = HEADER_BYTES + slots.length * 8 + rlimitCount * RLIMIT_BYTES;
  const bound = start + text.length * 3;
  if (bound > request.length) {
    request = new Uint8Array(Math.max(bound, request.length * 2));
    requestView = new DataView(request.buffer);
    requestText = Buffer.from(request.buffer);
  }
  const view = requestView;
  view.setUint32(0, ABI_VERSION, true);
  view.setUint32(4, (plan.detached ? FLAG_DETACHED : 0) | (plan.cwd ? FLAG_CWD : 0) | (plan.controllingTerminal ? FLAG_CTTY : 0) | setupFlags(setup), true);
  view.setUint32(8, slots.length, true);
  view.setUint32(12, plan.argv.length, true);
  view.setUint32(16, plan.envp.length, true);
  view.setUint32(20, rlimitCount, true);
  view.setUint32(24, setup && setup.uid >= 0 ? setup.uid : 0, true);
  view.setUint32(28, setup && setup.gid >= 0 ? setup.gid : 0, true);
  view.setInt32(32, setup && !setup.cgroupPath && setup.cgroupFd >= 0 ? setup.cgroupFd : -1, true);
  view.setInt32(36, setup ? setup.deathSignal : 0, true);
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i];
    view.setInt32(HEADER_BYTES + i * 8, slot ? SLOT_CODES[slot.kind] : 0, true);
    view.setInt32(HEADER_BYTES + i * 8 + 4, slot ? slot.fd : -1, true);
  }
  let at = HEADER_BYTES + slots.length * 8;
  for (let i = 0; i < rlimitCount; i++, at += RLIMIT_BYTES) {
    const [resource, soft, hard] = setup!.rlimits[i]!;
    view.setUint32(at, resource, true);
    view.setUint32(at + 4, 0, true);
    view.setBigUint64(at + 8, soft, true);
    view.setBigUint64(at + 16, hard, true);
  }
  return start + requestText.write(text, start, "utf8");
}

function setupFlags(setup: ChildSetup | undefined): number {
  if (!setup) return 0;
  return (setup.uid >= 0 ? FLAG_UID : 0) | (setup.gid >= 0 ? FLAG_GID : 0) |
    (setup.cgroupPath ? FLAG_CGROUP_PATH : setup.cgroupFd >= 0 ? FLAG_CGROUP_FD : 0) |
    (setup.keepNofile ? FLAG_KEEP_NOFILE : 0);
}


/** What the engine reports for a launch it refused or that failed. */
export interface LaunchFailure {
  stage: number;
  errno: number;
}

export interface Launched {
  id: number;
  pid: number;
  /** Per slot: the parent's end of a "pipe" slot, else -1. */
  fds: Int32Array;
}

const spawnResult = new Int32Array(4 + 256);

/** A prepared template's engine handle (0 is never one). */
export type TemplateHandle = number;

/** Launches a plan; with a template handle the plan is an overlay (slots, extra args, env). */
export function launch(plan: SpawnPlan, template: TemplateHandle = 0): Launched | LaunchFailure {
  const len = encode(plan);
  const rc = template
    ? native.forkless_template_spawn(template, request, len, spawnResult)
    : native.forkless_spawn(request, len, spawnResult);
  if (rc !== 0) return { stage: spawnResult[2]!, errno: spawnResult[3]! };
  return { id: spawnResult[0]! >>> 0, pid: spawnResult[1]!, fds: spawnResult.slice(4, 4 + plan.slots.length) };
}

/** A spawnSync's end: the Completion's fields, plus what was gathered and why it stopped. */
export interface SyncOutcome extends Omit<Completion, "id"> {
  stdout: Buffer | undefined;
  stderr: Buffer | undefined;
  /** A limit was hit and the kill signal sent (abi.zig SyncResult: never one without the other). */
  timedOut?: boolean;
  maxBufferExceeded?: boolean;
}

const SYNC_BYTES = 208;
// Shared memory: the engine writes the child's pid (its first field) right after the launch, and
// maxMemory's sampler thread reads it from there while this thread is blocked (memory.ts).
const syncResult = new SharedArrayBuffer(SYNC_BYTES);
const syncI32 = new Int32Array(syncResult);
/** The SyncResult's pid field, as another thread reads it during a spawnSync. */
export const syncPidCell = syncI32;
const syncU64 = new BigUint64Array(syncResult);
const syncBytes = new Uint8Array(syncResult);
const syncFds = new Int32Array(256);

/** Copies a malloc'd engine buffer into a JS Buffer and frees it. */
function takeBuffer(address: bigint, length: bigint): Buffer {
  if (address === 0n) return Buffer.alloc(0);
  const copy = Buffer.from(toArrayBuffer(Number(address) as Pointer, 0, Number(length)).slice(0));
  native.forkless_free(Number(address) as Pointer);
  return copy;
}

export function launchSync(plan: SpawnPlan, template: TemplateHandle = 0, limits?: Limits): SyncOutcome {
  const len = encode(plan);
  const timeoutMs = limits?.timeoutMs ?? 0;
  const maxBuffer = limits?.maxBuffer ?? 0;
  const killSignal = limits?.killSignal ?? 15;
  if (template) native.forkless_template_spawn_sync(template, request, len, syncBytes, syncFds, timeoutMs, maxBuffer, killSignal);
  else native.forkless_spawn_sync(request, len, syncBytes, syncFds, timeoutMs, maxBuffer, killSignal);
  return syncOutcome(plan);
}

/** Decodes the engine's SyncResult (and takes its output buffers) for `plan`. */
function syncOutcome(plan: SpawnPlan): SyncOutcome {
  const piped = (i: number) => plan.slots[i]?.kind === "pipe";
  const out = takeBuffer(syncU64[21]!, syncU64[22]!);
  const err = takeBuffer(syncU64[23]!, syncU64[24]!);
  const exitCode = syncI32[1]!;
  return {
    pid: syncI32[0]!,
    exitCode: exitCode < 0 ? null : exitCode,
    signal: syncI32[2]!,
    stage: syncI32[3]!,
    errno: syncI32[4]!,
    rusage: new BigInt64Array(syncResult.slice(24, 24 + 144)),
    stdout: piped(1) ? out : undefined,
    stderr: piped(2) ? err : undefined,
    timedOut: syncI32[50] !== 0,
    maxBufferExceeded: syncI32[51] !== 0,
  };
}

/** Encodes file, cwd, argv and envp into engine memory once. */
export function createTemplate(plan: SpawnPlan): TemplateHandle | LaunchFailure {
  const len = encode({ ...plan, slots: [] });
  const handle = Number(native.forkless_template_create(request, len, spawnResult));
  return handle || { stage: spawnResult[2]!, errno: spawnResult[3]! };
}

/** Drops the template; children still starting from it keep its memory until they exec. */
export function closeTemplate(template: TemplateHandle): void {
  native.forkless_template_close(template);
}

/** Signals the child through its pidfd. Returns 0 or a positive errno (ESRCH once reaped). */
export function signalChild(id: number, signal: number): number {
  return native.forkless_kill(id, signal);
}

// The few libc calls JS needs (fds handed out by the engine, memfds, PTYs): one table.
// "libc.so.6" is glibc's soname; musl's loader answers any "libc.*" with itself.
const libcSymbols = {
  close: { args: ["i32"], returns: "i32" },
  read: { args: ["i32", "ptr", "u64"], returns: "i32" },
  memfd_create: { args: ["ptr", "u32"], returns: "i32" },
  openpty: { args: ["ptr", "ptr", "ptr", "ptr", "ptr"], returns: "i32" },
  ioctl: { args: ["i32", "u64", "ptr"], returns: "i32" },
  tcgetattr: { args: ["i32", "ptr"], returns: "i32" },
  tcsetattr: { args: ["i32", "i32", "ptr"], returns: "i32" },
  fcntl: { args: ["i32", "i32", "i32"], returns: "i32" },
  __errno_location: { args: [], returns: "ptr" },
} as const;
const libc = engine.kind === "native" ? dlopen("libc.so.6", libcSymbols).symbols : unavailable<ReturnType<typeof dlopen<typeof libcSymbols>>["symbols"]>("this call");

/** errno after a libc call above failed. */
function lastErrno(): number {
  return read.i32(libc.__errno_location()!, 0);
}

const readChunk = new Uint8Array(64 * 1024);

/** Reads what a non-blocking fd holds right now. `eof` once the other side is gone for good. */
export function readAvailable(fd: number): { bytes: Uint8Array; eof: boolean } {
  const parts: Uint8Array[] = [];
  for (;;) {
    const n = libc.read(fd, readChunk, readChunk.length);
    if (n > 0) parts.push(readChunk.slice(0, n));
    else return { bytes: parts.length === 1 ? parts[0]! : Buffer.concat(parts), eof: n === 0 };
  }
}

/** Closes an fd the engine handed to JS (a pipe end). */
export function closeFd(fd: number): void {
  libc.close(fd);
}

// Buffer stdin (src/stdio-sources.ts): Bun hands the bytes to the child through a memfd.
/** The name Bun gives its memfds: the child's readlink of fd 0 shows "/memfd:spawn_stdio_stdin". */
const memfd_name = Buffer.from("spawn_stdio_stdin\0");
const MFD_CLOEXEC = 1;

/** memfd_create with MFD_CLOEXEC: the new fd, or a negative errno. */
export function createMemfd(): number {
  const fd = libc.memfd_create(memfd_name, MFD_CLOEXEC);
  return fd >= 0 ? fd : -lastErrno();
}

// ---------------------------------------------------------------------------------------------
// Terminals (src/terminal.ts): openpty and the termios/winsize ioctls, straight from glibc.

const TIOCSWINSZ = 0x5414;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const F_GETFL = 3;
const F_SETFL = 4;
const F_DUPFD_CLOEXEC = 1030;
const O_NONBLOCK = 0o4000;
/** glibc's struct termios on Linux: four u32 flag words, c_line, c_cc[32], two speeds. */
export const TERMIOS_BYTES = 60;

/** A new PTY pair sized cols × rows, both FD_CLOEXEC (other launchers in the program must not
 * leak them), the master O_NONBLOCK (Bun.file reads need it). Returns [master, slave] or an errno. */
export function openPty(cols: number, rows: number): [number, number] | number {
  const fds = new Int32Array(2);
  const size = new Uint16Array([rows, cols, 0, 0]);
  if (libc.openpty(ptr(fds), ptr(fds, 4), null, null, ptr(size)) !== 0) return lastErrno();
  libc.fcntl(fds[0]!, F_SETFD, FD_CLOEXEC);
  libc.fcntl(fds[1]!, F_SETFD, FD_CLOEXEC);
  libc.fcntl(fds[0]!, F_SETFL, libc.fcntl(fds[0]!, F_GETFL, 0) | O_NONBLOCK);
  return [fds[0]!, fds[1]!];
}

/** A second O_CLOEXEC fd for the same open file, or -1. */
export function dupFd(fd: number): number {
  return libc.fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/** TIOCSWINSZ: 0 or an errno. */
export function setWindowSize(fd: number, cols: number, rows: number): number {
  const size = new Uint16Array([rows, cols, 0, 0]);
  return libc.ioctl(fd, TIOCSWINSZ, ptr(size)) === 0 ? 0 : lastErrno();
}

export function getTermios(fd: number, into: Uint8Array): boolean {
  return libc.tcgetattr(fd, ptr(into)) === 0;
}

/** tcsetattr(TCSANOW). */
export function setTermios(fd: number, from: Uint8Array): boolean {
  return libc.tcsetattr(fd, 0, ptr(from)) === 0;
}

// ---------------------------------------------------------------------------------------------
// The container (issue 4). A session is one helper process; the request
// buffer and the result layouts are the ones above, so a container spawn decodes like any other.


/** The helper executable `zig build` installs beside the library. */
export const helperPath = engine.kind === "native" ? engine.helper : "";
const helperPathZ = Buffer.from(helperPath + "\0");

/** The failure a session reports once its helper is gone (ECONNRESET, stage "resource"). */
export const CONTAINER_LOST = { stage: 3, errno: 104 } as const;
export const CONTAINER_KILL_ALL = 2;
export const CONTAINER_SHUTDOWN = 3;

export interface ContainerSession {
  session: number;
  /** The helper, as the reaper knows it: its end arrives as a completion like a child's. */
  helperId: number;
  helperPid: number;
}

const openResult = new Int32Array(6);

export function openContainerSession(graceMs: number): ContainerSession | LaunchFailure {
  if (!existsSync(helperPath)) {
    const where = engine.kind === "native" ? ` (the engine came from ${engine.source})` : "";
    throw new Error(`forkless: the container helper ${helperPath || "forkless-helper"} is missing${where}; set FORKLESS_HELPER to a forkless-helper built for ${engine.platform}, or, in forkless's repository, run \`npm run build\``);
  }
  const rc = native.forkless_container_open(helperPathZ, graceMs, openResult);
  if (rc !== 0) return { stage: openResult[3]!, errno: openResult[4]! };
  return { session: openResult[0]! >>> 0, helperId: openResult[1]! >>> 0, helperPid: openResult[2]! };
}

export function containerLaunch(session: number, plan: SpawnPlan): Launched | LaunchFailure {
  const len = encode(plan);
  const rc = native.forkless_container_spawn(session, request, len, spawnResult);
  if (rc !== 0) return { stage: spawnResult[2]!, errno: spawnResult[3]! };
  return { id: spawnResult[0]! >>> 0, pid: spawnResult[1]!, fds: spawnResult.slice(4, 4 + plan.slots.length) };
}

export function containerLaunchSync(session: number, plan: SpawnPlan, limits?: Limits): SyncOutcome {
  const len = encode(plan);
  native.forkless_container_spawn_sync(session, request, len, syncBytes, syncFds, limits?.timeoutMs ?? 0, limits?.maxBuffer ?? 0, limits?.killSignal ?? 15);
  return syncOutcome(plan);
}

/** CONTAINER_KILL_ALL (arg: signal) or CONTAINER_SHUTDOWN (arg: grace ms). 0 or an errno. */
export function containerControl(session: number, kind: number, arg: number): number {
  return native.forkless_container_control(session, kind, arg);
}

export function releaseContainerSession(session: number): void {
  native.forkless_container_release(session);
}
