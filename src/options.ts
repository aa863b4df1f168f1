// The user's spawn arguments → one SpawnRequest, or the exact error Bun.spawn would throw, before
// anything native runs. One typebox schema, compiled at module load, gates every call; only after
// a failed Check do we walk the input again to name the first problem in Bun's order.
// Left out on purpose: coercions Bun performs silently (["echo", 1], cwd: 5): they are refused with
// a TypeError naming the option.
//
// Order of validation, as probed in Bun 1.4.5 (the first failing step wins):
//   cmd is an array → argv0 (NUL) → cwd (NUL) → ipc → signal → onDisconnect → onExit → env
//   (object; per key: key NUL, then value NUL) → cmd not empty → cmd[0] NUL → PATH lookup →
//   args[1..] NUL → stdio (or stdin, stderr, stdout: in that order; ignored when stdio !== undefined)
//   → lazy, detached and the remaining options.
// Where Bun coerces garbage (cmd: ["echo", 1], cwd: 5, detached: "yes", argv0: {}), forkless
// rejects it with a TypeError naming the option; where Bun validates, its class, code and message.

import Type from "typebox";
import { Compile } from "typebox/compile";
import { isContainer } from "./container.ts";
import {
  argError,
  executableNotFound,
  nullByteError,
} from "./errors.ts";
import type { Slot, SpawnPlan, SpawnRequest } from "./plan.ts";
import { child_setup_schema, readChildSetup } from "./child-setup.ts";
import { abortError, readLimits } from "./limits.ts";
import { addIpcToPlan, readIpcOptions } from "./ipc.ts";
import { readTerminalOption } from "./terminal.ts";
import { readMaxMemory } from "./memory.ts";
import { objectSlot } from "./stdio-sources.ts";
import type { Spawn } from "bun";
import type { Container } from "./container.ts";
import type { RlimitName } from "./child-setup.ts";
import type { OutputOption, StdinOption, Subprocess } from "./subprocess.ts";
import type { Terminal, TerminalOptions } from "./terminal.ts";

// ---------------------------------------------------------------------------------------------
// The options as the caller's code types them: bun-types' Bun.spawn options (stdin, stdout,
// stderr and stdio decide the types of what the Subprocess hands out), with forkless's Subprocess
// and Terminal in them, plus forkless's own. What a call may pass at run time is the schema's.

/** The stdio options, from which `In`, `Out` and `Err` are inferred, as in bun-types. */
export interface StdioOptions<In extends StdinOption, Out extends OutputOption, Err extends OutputOption> {
  stdin?: In;
  stdout?: Out;
  stderr?: Err;
  stdio?: [In, Out, Err, ...(OutputOption | "socket-fd")[]];
}

/** Bun's options whose types are forkless's own: the stdio ones, and those naming Bun's objects. */
type Redeclared = keyof StdioOptions<StdinOption, OutputOption, OutputOption> | "onExit" | "ipc" | "terminal";

/** The options forkless has and Bun has not (README: "Child setup", "Container"). */
interface ForklessOptions {
  /** Launch through a Container's helper process; true for the process-wide default one. */
  container?: boolean | Container;
  /** The signal the child gets when this process dies (PR_SET_PDEATHSIG); validated as killSignal. */
  deathSignal?: string | number;
  /** A number sets the soft and the hard limit, `{ soft?, hard? }` either; Infinity is unlimited. */
  rlimits?: Partial<Record<RlimitName, number | { soft?: number; hard?: number }>>;
  /** Bun's main branch (memory.ts): bytes the child and its descendants may hold; 0, null or Infinity: none. */
  maxMemory?: number | null;
}

export interface SpawnOptions<In extends StdinOption, Out extends OutputOption, Err extends OutputOption>
  extends Omit<Spawn.SpawnOptions<Spawn.Writable, OutputOption, OutputOption>, Redeclared>, StdioOptions<In, Out, Err>, ForklessOptions {
  onExit?(subprocess: Subprocess<In, Out, Err>, exitCode: number | null, signalCode: NodeJS.Signals | number | null, error?: Bun.ErrorLike): void | Promise<void>;
  ipc?(message: unknown, subprocess: Subprocess<In, Out, Err>, handle?: unknown): void;
  terminal?: TerminalOptions | Terminal;
}

/** spawnSync calls no onExit and opens no ipc channel, as Bun's. */
export interface SpawnSyncOptions<In extends StdinOption, Out extends OutputOption, Err extends OutputOption>
  extends Omit<Spawn.SpawnSyncOptions<Spawn.Writable, OutputOption, OutputOption>, Redeclared>, StdioOptions<In, Out, Err>, ForklessOptions {}

/** Bun rejects fd numbers >= 2^31 - 1 ("file descriptor must be a valid integer"). */
const max_fd = 2 ** 31 - 2;

// ---------------------------------------------------------------------------------------------
// The schema: exactly the supported subset. Anything else fails Check and is explained below.

const FdNumber = Type.Integer({ minimum: 0, maximum: max_fd });
const StdioValue = Type.Union([
  Type.Undefined(),
  Type.Null(),
  Type.Literal("pipe"),
  Type.Literal("inherit"),
  Type.Literal("ignore"),
  FdNumber,
  // Buffers, Blobs, Bun.file, Response, Request, ReadableStream: sorted out by stdio-sources.ts.
  Type.Object({}),
]);
const Callback = Type.Function([], Type.Unknown());
const nullable = <T extends Parameters<typeof Type.Optional>[0]>(type: T) =>
  Type.Optional(Type.Union([type, Type.Null()]));

const Options = Type.Object({
  argv0: nullable(Type.String()),
  cwd: nullable(Type.String()),
  // ipc, serialization, terminal: read by src/ipc.ts and src/terminal.ts, with Bun's messages.
  ipc: Type.Optional(Type.Unknown()),
  // signal, timeout, killSignal, maxBuffer: checked by readSignal and limits.ts, with Bun's messages.
  signal: Type.Optional(Type.Unknown()),
  onDisconnect: nullable(Callback),
  onExit: nullable(Callback),
  env: nullable(Type.Object({})),
  stdio: nullable(Type.Array(StdioValue)),
  stdin: Type.Optional(StdioValue),
  stdout: Type.Optional(StdioValue),
  stderr: Type.Optional(StdioValue),
  detached: nullable(Type.Boolean()),
  lazy: nullable(Type.Boolean()),
  timeout: Type.Optional(Type.Unknown()),
  killSignal: Type.Optional(Type.Unknown()),
  maxBuffer: Type.Optional(Type.Unknown()),
  // maxMemory: memory.ts, after the limits.
  maxMemory: Type.Optional(Type.Unknown()),
  // uid, gid, cgroup, deathSignal, rlimits: child-setup.ts, with Bun's messages.
  ...child_setup_schema,
  terminal: Type.Optional(Type.Unknown()),
  serialization: Type.Optional(Type.Unknown()),
  // No-ops on Linux in Bun, whatever their value.
  // true (the process-wide default container) or a Container; checked by readContainer.
  container: Type.Optional(Type.Unknown()),
  windowsHide: Type.Optional(Type.Unknown()),
  windowsVerbatimArguments: Type.Optional(Type.Unknown()),
});

/** [cmd, options]: the object form is checked as [options.cmd, options]. */
const SpawnArguments = Type.Tuple([
  Type.Array(Type.String(), { minItems: 1 }),
  Type.Union([Type.Undefined(), Type.Null(), Options]),
]);

const validator = Compile(SpawnArguments);

interface OptionsShape {
  argv0?: string | null;
  cwd?: string | null;
  onExit?: SpawnRequest["onExit"] | null;
  onDisconnect?: unknown;
  env?: Record<string, unknown> | null;
  stdio?: unknown[] | null;
  stdin?: unknown;
  stdout?: unknown;
  stderr?: unknown;
  detached?: boolean | null;
  timeout?: unknown;
  killSignal?: unknown;
  maxBuffer?: unknown;
  [key: string]: unknown;
}

/** After a failed Check: top-level option name ("cmd", "cwd", "stdio", …) → typebox instancePath. */
type Issues = Map<string, string> | null;

// ---------------------------------------------------------------------------------------------
// Defaults shared by every plan. Slots are frozen because many plans hold the same objects.

const slot_ignore: Slot = Object.freeze({ kind: "ignore", fd: -1 });
const slot_pipe: Slot = Object.freeze({ kind: "pipe", fd: -1 });
const slot_ipc: Slot = Object.freeze({ kind: "pipe", fd: -1, ipc: true });
const slot_inherit: readonly Slot[] = [0, 1, 2].map((fd) => Object.freeze({ kind: "inherit", fd }) as Slot);
const defaults_async: readonly Slot[] = [slot_ignore, slot_pipe, slot_inherit[2]!];
const defaults_sync: readonly Slot[] = [slot_ignore, slot_pipe, slot_pipe];

/**
 * Bun's default child environment is its environment map as it was at startup (the process's
 * environ, plus what Bun itself added: .env files, NODE_ENV=test under `bun test`); later writes
 * to process.env reach neither the child nor the PATH lookup (probed). process.env at module load
 * is that map, in order, unless the program wrote to it before importing forkless.
 * Shared by every plan that has no `env`: treat as read-only.
 */
const startup_envp: readonly string[] = Object.freeze(
  Object.entries(process.env).flatMap(([key, value]) => (value === undefined ? [] : [`${key}=${value}`])),
);
const startup_path: string = process.env.PATH ?? "";
/** With an `env` lacking PATH (or PATH ""), Bun still finds /usr/bin programs, not /usr/sbin ones. */
const fallback_path = "/usr/bin:/bin";

// ---------------------------------------------------------------------------------------------

/** Bun's bound on cmd's length (u32 max - 2: room for argv0 and the terminating null). */
const max_cmd_length = 0xffff_fffd;

/**
 * Validates and normalises one spawn call. `first`/`second` are exactly what the user passed to
 * spawn()/spawnSync(): `(cmd, options?)` or `({ cmd, ...options })`. Throws Bun's error otherwise.
 */
export function normalizeSpawn(first: unknown, second: unknown, sync: boolean): SpawnRequest {
  let cmd: unknown;
  let options: unknown;
  if (Array.isArray(first)) {
    cmd = first;
    options = second;
  } else if (typeof first === "object" && first !== null) {
    // Bun ignores the second argument in the object form.
    cmd = (first as { cmd?: unknown }).cmd;
    options = first;
  } else {
    throw cmdMustBeArray();
  }
  // Before anything walks it: a spoofed `length` (up to 2^32-1) would be iterated element by
  // element (measured: ~170 s). Bun's own bound, message and class; Bun checks it after the
  // options, so only a call that is wrong in both ways sees a different first error.
  if (Array.isArray(cmd) && cmd.length > max_cmd_length) throw argError("ERR_INVALID_ARG_TYPE", "cmd array is too large");
  const input = [cmd, options];
  if (validator.Check(input)) {
    return build(cmd as string[], options as OptionsShape | null | undefined, sync, null);
  }
  return build(cmd, options, sync, collectIssues(validator.Errors(input)));
}

function collectIssues(errors: readonly { instancePath: string }[]): Map<string, string> {
  const issues = new Map<string, string>();
  for (const error of errors) {
    const parts = error.instancePath.split("/");
    // "/0…" is cmd; "/1/<key>…" is one option; "/1" alone only restates the union failure.
    const key = parts[1] === "0" ? "cmd" : parts.length > 2 ? decodePointer(parts[2]!) : null;
    if (key !== null && !issues.has(key)) issues.set(key, error.instancePath);
  }
  return issues;
}

function decodePointer(part: string): string {
  return part.replaceAll("~1", "/").replaceAll("~0", "~");
}

function build(cmd: unknown, raw_options: unknown, sync: boolean, issues: Issues): SpawnRequest {
  if (!Array.isArray(cmd)) throw cmdMustBeArray();
  if (raw_options === undefined || raw_options === null) {
    const resolved = resolveCommand(cmd, "", startup_path, "", issues);
    return request(resolved, startup_envp as string[], "", defaultSlots(sync), false, undefined);
  }
  if (typeof raw_options !== "object" || Array.isArray(raw_options)) {
    throw invalidType("options", "argument", "an object", raw_options);
  }
  const options = raw_options as OptionsShape;
  const argv0 = readString(options, "argv0", issues);
  const cwd = readString(options, "cwd", issues);
  if (sync && options.terminal) {
    throw argError("ERR_INVALID_ARG_TYPE", "terminal option is only supported for Bun.spawn, not Bun.spawnSync");
  }
  // spawnSync ignores ipc and serialization, as Bun does.
  const ipc = sync ? undefined : readIpcOptions(options.ipc, options.serialization);
  const signal = readSignal(options.signal);
  const onDisconnect = readCallback(options, "onDisconnect", issues) as SpawnRequest["onDisconnect"];
  const onExit = readCallback(options, "onExit", issues);
  let envp = startup_envp as string[];
  let path = startup_path;
  if (options.env !== undefined && options.env !== null) {
    if (issues?.has("env")) throw argError("ERR_INVALID_ARG_TYPE", "env must be an object");
    const converted = convertEnv(options.env);
    envp = converted.envp;
    path = converted.path;
  }
  const resolved = resolveCommand(cmd, argv0, path, cwd, issues);
  const slots = readStdio(options, sync, issues);
  // Bun reads uid, gid and cgroup right after stdio; deathSignal and rlimits come with them.
  const setup = readChildSetup(options, issues);
  // Then timeout, then killSignal (for spawn, before terminal); detached Bun never checks.
  const limits = readLimits(options, signal);
  const maxMemory = readMaxMemory(options);
  const detached = readDetached(options, issues);
  const lazy = readLazy(options, issues);
  const terminal = !sync && options.terminal ? readTerminalOption(options.terminal) : undefined;
  const built = request(resolved, envp, cwd, slots, detached, onExit);
  if (limits) built.limits = limits;
  if (maxMemory) built.maxMemory = maxMemory;
  if (lazy) built.lazy = true;
  if (setup) built.plan.setup = setup;
  if (terminal) built.terminal = terminal;
  const container = readContainer(options.container);
  if (container) built.container = container;
  if (ipc) built.ipc = addIpcToPlan(built.plan, ipc);
  if (ipc && onDisconnect) built.onDisconnect = onDisconnect;
  return built;
}

interface ResolvedCommand {
  file: string;
  argv: string[];
}

function request(
  resolved: ResolvedCommand,
  envp: string[],
  cwd: string,
  slots: (Slot | null)[],
  detached: boolean,
  onExit: SpawnRequest["onExit"],
): SpawnRequest {
  const plan: SpawnPlan = { file: resolved.file, argv: resolved.argv, envp, cwd, slots, detached };
  // Bun reports launch failures against argv[0] (argv0 when given), so that is the command.
  return { plan, command: resolved.argv[0]!, onExit };
}

// ---------------------------------------------------------------------------------------------
// One step per option, in Bun's order.

/** forkless's own option: launch through a helper parent process (container.ts). */
function readContainer(value: unknown): SpawnRequest["container"] {
  if (value === undefined || value === null || value === false) return undefined;
  if (value === true || isContainer(value)) return value;
  throw invalidType("options.container", "property", "a boolean or a Container", value);
}

function readString(options: OptionsShape, name: "argv0" | "cwd", issues: Issues): string {
  const value = options[name];
  if (issues?.has(name)) throw invalidType(pointerToPath(issues.get(name)!), "property", "of type string", value);
  if (value === undefined || value === null || value === "") return "";
  if (value.includes("\0")) throw nullByteError(`property 'options.${name}'`, value, true);
  return value;
}

function readCallback(options: OptionsShape, name: "onExit" | "onDisconnect", issues: Issues) {
  if (issues?.has(name)) throw argError("ERR_INVALID_ARG_TYPE", `${name} must be a function or undefined`);
  const value = options[name];
  return typeof value === "function" ? (value as SpawnRequest["onExit"]) : undefined;
}

function readDetached(options: OptionsShape, issues: Issues): boolean {
  if (issues?.has("detached")) {
    throw invalidType("options.detached", "property", "of type boolean", options.detached);
  }
  return options.detached === true;
}

/** An AbortSignal or nothing; one already aborted throws Bun's AbortError here, before any launch
 * and before every later check (a missing command included). */
function readSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined || value === null) return undefined;
  if (!(value instanceof AbortSignal)) throw invalidType("signal", "argument", "of type AbortSignal", value);
  if (value.aborted) throw abortError(value.reason);
  return value;
}

/** Bun coerces any value to a boolean; forkless wants a boolean (or null/undefined). */
function readLazy(options: OptionsShape, issues: Issues): boolean {
  if (issues?.has("lazy")) throw invalidType("options.lazy", "property", "of type boolean", options.lazy);
  return options.lazy === true;
}


/** Bun's conversion: own enumerable string keys in property order, undefined values skipped,
 * everything else through ToString (a Symbol throws "Cannot convert a symbol to a string"). */
function convertEnv(env: Record<string, unknown>): { envp: string[]; path: string } {
  const envp: string[] = [];
  let path = "";
  for (const key of Object.keys(env)) {
    const raw = env[key];
    if (raw === undefined) continue;
    if (key.includes("\0")) throw nullByteError(`property 'options.env['${key}']'`, key, false);
    const value = `${raw as string}`;
    if (value.includes("\0")) throw nullByteError(`property 'options.env['${key}']'`, value, false);
    if (key === "PATH") path = value;
    envp.push(`${key}=${value}`);
  }
  return { envp, path };
}

function resolveCommand(
  cmd: unknown[],
  argv0: string,
  path: string,
  cwd: string,
  issues: Issues,
): ResolvedCommand {
  if (cmd.length === 0) throw argError("ERR_INVALID_ARG_TYPE", "cmd must not be empty");
  if (issues?.has("cmd")) throwBadCmdElement(cmd, issues.get("cmd")!);
  const name = cmd[0];
  if (typeof name !== "string") throw invalidType("cmd[0]", "argument", "of type string", name);
  if (name.includes("\0")) throw nullByteError("argument 'args[0]'", name, true);
  const file = name.includes("/") ? name : Bun.which(name, { PATH: path || fallback_path, cwd: cwd || undefined });
  if (file === null) throw executableNotFound(name);
  const argv = new Array<string>(cmd.length);
  argv[0] = argv0 === "" ? name : argv0;
  for (let i = 1; i < cmd.length; i++) {
    const arg = cmd[i];
    // Holes pass typebox's Check (Array.prototype.every skips them), so check here.
    if (typeof arg !== "string") throw invalidType(`cmd[${i}]`, "argument", "of type string", arg);
    if (arg.includes("\0")) throw nullByteError(`argument 'args[${i}]'`, arg, false);
    argv[i] = arg;
  }
  return { file, argv };
}

function throwBadCmdElement(cmd: unknown[], instance_path: string): never {
  const index = Number(instance_path.split("/")[2] ?? "0");
  throw invalidType(`cmd[${index}]`, "argument", "of type string", cmd[index]);
}

// ---------------------------------------------------------------------------------------------
// stdio

function defaultSlots(sync: boolean): (Slot | null)[] {
  return (sync ? defaults_sync : defaults_async).slice();
}

function readStdio(options: OptionsShape, sync: boolean, issues: Issues): (Slot | null)[] {
  const slots = defaultSlots(sync);
  const stdio = options.stdio;
  if (stdio === undefined) {
    // Bun reads these three only without `stdio`, and in this order.
    readStdioOption(slots, options.stdin, 0, "options.stdin", sync);
    readStdioOption(slots, options.stderr, 2, "options.stderr", sync);
    readStdioOption(slots, options.stdout, 1, "options.stdout", sync);
    return slots;
  }
  if (stdio === null) return slots;
  if (issues?.has("stdio") && !Array.isArray(stdio)) throw argError("ERR_INVALID_ARG_TYPE", "stdio must be an array");
  for (let i = 0; i < stdio.length; i++) {
    const slot = toSlot(stdio[i], i, sync, `options.stdio[${i}]`);
    if (i < 3) {
      if (slot !== undefined) slots[i] = slot;
    } else {
      slots.push(slot ?? null);
    }
  }
  return slots;
}

function readStdioOption(slots: (Slot | null)[], value: unknown, index: number, where: string, sync: boolean): void {
  const slot = toSlot(value, index, sync, where);
  if (slot !== undefined) slots[index] = slot;
}

/** One stdio entry → its slot; undefined keeps the default; null at index >= 3 leaves no fd. */
function toSlot(value: unknown, index: number, sync: boolean, where: string): Slot | null | undefined {
  switch (value) {
    case undefined:
      return index < 3 ? undefined : null;
    case null:
    case "ignore":
      // Bun leaves nothing at an extra index for "ignore" and null (probed: fd 3 stays closed).
      return index < 3 ? slot_ignore : null;
    case "pipe":
      // spawnSync has nothing to write: Bun gives the child /dev/null for a "pipe" stdin (probed).
      return sync && index === 0 ? slot_ignore : slot_pipe;
    case "inherit":
      return index < 3 ? slot_inherit[index]! : { kind: "inherit", fd: index };
    case "socket-fd":
      // At an extra index Bun's "socket-fd" is the same SOCK_STREAM socketpair as "pipe" (probed).
      if (index >= 3 && !sync) return slot_pipe;
      break;
    case "ipc":
      // node:child_process's fork() passes its "ipc" entry on. Bun gives /dev/null below index 3;
      // from 3 on a socketpair, which is the channel when `ipc` is given (probed; ipc.ts).
      return index < 3 ? slot_ignore : slot_ipc;
  }
  if (typeof value === "number") return fdSlot(value, index, where);
  if (typeof value === "object" && value !== null) {
    const slot = objectSlot(value, index, sync);
    if (slot !== undefined) return slot;
  }
  throw badStdioValue(value, index);
}

function fdSlot(value: number, index: number, where: string): Slot {
  // Bun's own checks first, with its messages; it truncates fractions, forkless refuses them.
  const truncated = Math.trunc(value);
  if (truncated < 0) throw argError("ERR_INVALID_ARG_TYPE", "file descriptor must be a positive integer");
  if (truncated > max_fd) {
    throw argError("ERR_INVALID_ARG_TYPE", `file descriptor must be a valid integer, received: ${value}`);
  }
  if (!Number.isInteger(value)) throw invalidType(where, "property", "an integer file descriptor", value);
  if (index === 0 && (value === 1 || value === 2)) {
    throw argError("ERR_INVALID_ARG_TYPE", "stdout and stderr cannot be used for stdin");
  }
  if ((index === 1 || index === 2) && value === 0) {
    throw argError("ERR_INVALID_ARG_TYPE", "stdin cannot be used for stdout or stderr");
  }
  // `+ 0` turns -0 into 0.
  return { kind: "fd", fd: value + 0 };
}

const bad_stdio_string =
  "stdio must be an array of 'inherit', 'pipe', 'ignore', Bun.file(pathOrFd), number, or null";
const bad_stdio_type = "stdio must be an array of 'inherit', 'ignore', or null";

/** Bun's error for a stdio value of no kind it accepts at this index. */
function badStdioValue(value: unknown, index: number): Error {
  if (value === "socket-fd") {
    if (index < 3) return argError("ERR_INVALID_ARG_TYPE", "stdio: 'socket-fd' is only supported at indices >= 3");
    return argError("ERR_INVALID_ARG_TYPE", "stdio: 'socket-fd' cannot be used with spawnSync");
  }
  if (typeof value === "string") return argError("ERR_INVALID_ARG_TYPE", bad_stdio_string);
  return argError("ERR_INVALID_ARG_TYPE", bad_stdio_type);
}

// ---------------------------------------------------------------------------------------------
// Messages for what Bun does not validate itself.

function cmdMustBeArray(): Error {
  return argError("ERR_INVALID_ARG_TYPE", "cmd must be an array");
}

/** `The "options.cwd" property must be of type string. Received type number (5)` */
function invalidType(path: string, kind: "argument" | "property", expected: string, value: unknown): Error {
  return argError("ERR_INVALID_ARG_TYPE", `The "${path}" ${kind} must be ${expected}. Received ${describe(value)}`);
}

/** "/1/stdio/3" → "options.stdio[3]", "/0/2" → "cmd[2]". */
function pointerToPath(instance_path: string): string {
  const parts = instance_path.split("/").slice(1).map(decodePointer);
  let path = parts[0] === "0" ? "cmd" : "options";
  for (const part of parts.slice(1)) path += /^\d+$/.test(part) ? `[${part}]` : `.${part}`;
  return path;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "function") return `function ${value.name || "(anonymous)"}`;
  if (typeof value === "object") {
    if (Array.isArray(value)) return "an instance of Array";
    const name = (value as { constructor?: { name?: string } }).constructor?.name;
    return name ? `an instance of ${name}` : Bun.inspect(value);
  }
  const shown = typeof value === "string" ? `'${value.length > 28 ? value.slice(0, 25) + "..." : value}'` : String(value);
  return `type ${typeof value} (${shown})`;
}
