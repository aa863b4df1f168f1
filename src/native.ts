// The only file that imports bun:ffi: loads the engine, checks its ABI version, encodes one
// request buffer per spawn and decodes what comes back. No pointer outlives the call it was
// passed to; the engine copies what it keeps.
import { dlopen, JSCallback, toArrayBuffer, type Pointer } from "bun:ffi";
import { existsSync } from "node:fs";
import type { SlotKind, SpawnPlan } from "./plan.ts";

const ABI_VERSION = 1;
const libraryPath = new URL("../zig/zig-out/lib/libforkless.so", import.meta.url).pathname;

if (!existsSync(libraryPath)) {
  throw new Error(`forkless: the native engine is not built (${libraryPath} is missing); run \`npm run build\``);
}

const lib = dlopen(libraryPath, {
  forkless_init: { args: ["ptr"], returns: "u32" },
  forkless_spawn: { args: ["ptr", "usize", "ptr"], returns: "i32" },
  forkless_spawn_sync: { args: ["ptr", "usize", "ptr", "ptr"], returns: "i32" },
  forkless_kill: { args: ["u32", "i32"], returns: "i32" },
  forkless_drain: { args: ["ptr", "u32"], returns: "u32" },
  forkless_free: { args: ["ptr"], returns: "void" },
  forkless_template_create: { args: ["ptr", "usize", "ptr"], returns: "usize" },
  forkless_template_spawn: { args: ["usize", "ptr", "usize", "ptr"], returns: "i32" },
  forkless_template_spawn_sync: { args: ["usize", "ptr", "usize", "ptr", "ptr"], returns: "i32" },
  forkless_template_close: { args: ["usize"], returns: "void" },
});
const native = lib.symbols;

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

// Called on the reaper thread; Bun queues the call onto the JS thread.
const notify = new JSCallback(drain, { args: [], returns: "void", threadsafe: true });

const version = native.forkless_init(notify.ptr);
if (version !== ABI_VERSION) {
  throw new Error(`forkless: engine ABI ${version} does not match ${ABI_VERSION} (or the engine could not start); rebuild with \`npm run build\``);
}

export function setCompletionHandler(handler: CompletionHandler): void {
  onCompletion = handler;
}

const SLOT_CODES: Record<SlotKind, number> = { inherit: 1, ignore: 2, pipe: 3, fd: 4 };
const FLAG_DETACHED = 1;
const FLAG_CWD = 2;
const FLAG_CTTY = 4;
const HEADER_BYTES = 24;
let request = new Uint8Array(64 * 1024);
let requestView = new DataView(request.buffer);
let requestText = Buffer.from(request.buffer);

// The default environment is one shared array for every spawn that gives no `env`: join it once.
let lastEnvp: readonly string[] | undefined;
let lastEnvText = "";

function joined(strings: readonly string[]): string {
  return strings.length === 0 ? "" : strings.join("\0") + "\0";
}

/** Encodes the plan into the shared request buffer; returns its length in bytes. */
function encode(plan: SpawnPlan): number {
  const slots = plan.slots;
  if (plan.envp !== lastEnvp) {
    lastEnvp = plan.envp;
    lastEnvText = joined(plan.envp);
  }
  // One string, one UTF-8 write: cheaper than a write per string (options.ts rejected NULs).
  const text = plan.file + "\0" + (plan.cwd ? plan.cwd + "\0" : "") + joined(plan.argv) + lastEnvText;
  const start = HEADER_BYTES + slots.length * 8;
  const bound = start + text.length * 3;
  if (bound > request.length) {
    request = new Uint8Array(Math.max(bound, request.length * 2));
    requestView = new DataView(request.buffer);
    requestText = Buffer.from(request.buffer);
  }
  const view = requestView;
  view.setUint32(0, ABI_VERSION, true);
  view.setUint32(4, (plan.detached ? FLAG_DETACHED : 0) | (plan.cwd ? FLAG_CWD : 0) | (plan.controllingTerminal ? FLAG_CTTY : 0), true);
  view.setUint32(8, slots.length, true);
  view.setUint32(12, plan.argv.length, true);
  view.setUint32(16, plan.envp.length, true);
  view.setUint32(20, 0, true);
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i];
    view.setInt32(HEADER_BYTES + i * 8, slot ? SLOT_CODES[slot.kind] : 0, true);
    view.setInt32(HEADER_BYTES + i * 8 + 4, slot ? slot.fd : -1, true);
  }
  return start + requestText.write(text, start, "utf8");
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

export interface SyncOutcome {
  pid: number;
  exitCode: number | null;
  signal: number;
  stage: number;
  errno: number;
  rusage: BigInt64Array;
  stdout: Buffer | undefined;
  stderr: Buffer | undefined;
}

const SYNC_BYTES = 200;
const syncResult = new ArrayBuffer(SYNC_BYTES);
const syncI32 = new Int32Array(syncResult);
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

export function launchSync(plan: SpawnPlan, template: TemplateHandle = 0): SyncOutcome {
  const len = encode(plan);
  if (template) native.forkless_template_spawn_sync(template, request, len, syncBytes, syncFds);
  else native.forkless_spawn_sync(request, len, syncBytes, syncFds);
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

const libc = dlopen("libc.so.6", { close: { args: ["i32"], returns: "i32" } });

/** Closes an fd the engine handed to JS (a pipe end). */
export function closeFd(fd: number): void {
  libc.symbols.close(fd);
}
