// The user's spawn arguments → one SpawnRequest, or the exact error Bun.spawn would throw, before
// anything native runs. One typebox schema holds every option: its canonical values, which are
// Checked at once, and Bun's rule for any other value (a conversion, or Bun's error), applied in
// Bun's order only after a failed Check. forkless coerces exactly where Bun coerces (cmd elements,
// argv0, cwd, env values: ToString) and throws exactly where Bun throws, with its class, code and
// message: strictness that breaks a program that works on Bun.spawn is not a feature.

import Type, { type TSchema } from "typebox";
import { Compile } from "typebox/compile";
import { isContainer } from "./container.ts";
import {
  argError,
  executableNotFound,
  nullByteError,
} from "./errors.ts";
import type { Slot, SpawnPlan, SpawnRequest } from "./plan.ts";
import { child_setup_schema, Infinite, readChildSetup } from "./child-setup.ts";
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
// The schema: every option, the values it is meant to take, and what Bun does with any other.
//
// A call made of canonical values only (the common case) passes Check and is built at once. After
// a failed Check, every option that failed goes to its `bun` rule, in Bun's order: the rule
// converts the value exactly as Bun does, or throws Bun's error. An option whose meaning needs
// more than its own value (stdio, the limits, child setup, ipc, terminal, container) is explained
// by the reader its comment names, with Bun's messages.
//
// Bun reads an option as absent when it is undefined, null or "" (its get_truthy), and reads
// them in this order (the first failing step wins; probed in Bun 1.4.5, and in its source):
//   cmd is an array (or, in the object form, present) → argv0 → cwd → terminal (spawnSync) →
//   ipc → signal → onDisconnect → onExit → env (per key: key NUL, then value NUL) → cmd not
//   empty → cmd[0] → PATH lookup → cmd[1..] → stdio (or stdin, stderr, stdout, in that order;
//   ignored when stdio is given) → uid, gid, cgroup → timeout → killSignal → the rest.

/** Bun's rule for a value outside an option's canonical type. Rules accept canonical values too. */
type Rule = (value: unknown) => unknown;

/** ToString, as Bun converts argv0, cwd, every cmd element and every env value: a number, a
 * boolean or an object becomes its string; a Symbol throws "Cannot convert a symbol to a string". */
const toBunString: Rule = (value) => (typeof value === "string" ? value : `${value as string}`);
/** Bun takes a boolean only, and ignores any other value (detached, lazy). */
const booleanOnly: Rule = (value) => value === true;
/** Bun throws ERR_INVALID_ARG_TYPE with this message for any value outside the type. */
const refuse = (message: string): Rule => () => {
  throw argError("ERR_INVALID_ARG_TYPE", message);
};
const refuseUnless = (accepts: (value: unknown) => boolean, message: string): Rule => (value) => {
  if (accepts(value)) return value;
  throw argError("ERR_INVALID_ARG_TYPE", message);
};
/** Read by the module named in the comment (a value Bun ignores comes back unchanged). */
const reader: Rule = (value) => value;

const option = <T extends TSchema>(type: T, bun: Rule) => Type.Optional(Type.Union([type, Type.Null()], { bun }));

const FdNumber = Type.Integer({ minimum: 0, maximum: max_fd });
const StdioValue = Type.Union([
  Type.Undefined(),
  Type.Null(),
  Type.Literal("pipe"),
  Type.Literal("inherit"),
  Type.Literal("ignore"),
  // Bun truncates a fraction (1.5 is fd 1) and takes NaN as 0: readStdio, with Bun's messages.
  FdNumber,
  // Buffers, Blobs, Bun.file, Response, Request, ReadableStream: stdio-sources.ts sorts them out.
  Type.Object({}),
]);
const Callback = Type.Function([], Type.Unknown());
const Signal = Type.Union([Type.String(), Type.Integer({ minimum: 1, maximum: 64 })]);

const option_schemas = {
  argv0: option(Type.String(), toBunString),
  cwd: option(Type.String(), toBunString),
  // A function opens the channel (spawn only); any other value is ignored. ipc.ts reads it, and
  // serialization ("json" or "advanced", the default) with it.
  ipc: option(Callback, reader),
  serialization: option(Type.Union([Type.Literal("json"), Type.Literal("advanced")]), reader),
  signal: option(
    Type.Refine(Type.Object({}), (value) => value instanceof AbortSignal),
    (value) => {
      if (value instanceof AbortSignal) return value;
      throw invalidType("signal", "argument", "of type AbortSignal", value);
    },
  ),
  onDisconnect: option(Callback, refuseUnless((value) => typeof value === "function", "onDisconnect must be a function or undefined")),
  onExit: option(Callback, refuseUnless((value) => typeof value === "function", "onExit must be a function or undefined")),
  // Own enumerable string keys of any object (an array's indices, a function's properties too).
  env: option(Type.Object({}), refuseUnless((value) => typeof value === "object" || typeof value === "function", "env must be an object")),
  // readStdio and stdio-sources.ts.
  stdio: option(Type.Array(StdioValue), reader),
  stdin: Type.Optional(StdioValue),
  stdout: Type.Optional(StdioValue),
  stderr: Type.Optional(StdioValue),
  lazy: option(Type.Boolean(), booleanOnly),
  detached: option(Type.Boolean(), booleanOnly),
  // uid, gid, cgroup, deathSignal, rlimits: child-setup.ts, with Bun's messages.
  ...child_setup_schema,
  // limits.ts: an integer of ms (Infinity: none); a signal name or number; bytes (what is not a
  // number >= 1 is ignored, as Bun ignores it).
  timeout: option(Type.Union([Type.Integer({ minimum: 0 }), Infinite]), reader),
  killSignal: option(Signal, reader),
  maxBuffer: option(Type.Number(), reader),
  // Bun's main branch, memory.ts: bytes for the child and its descendants (0 or Infinity: none).
  maxMemory: option(Type.Union([Type.Integer({ minimum: 0 }), Infinite]), reader),
  // terminal.ts: a Terminal or its options (spawn only).
  terminal: option(Type.Object({}), reader),
  // forkless's own: true (the process-wide default container) or a Container; readContainer.
  container: option(Type.Union([Type.Boolean(), Type.Object({})]), reader),
  // No-ops on Linux in Bun, whatever their value.
  windowsHide: Type.Optional(Type.Unknown()),
  windowsVerbatimArguments: Type.Optional(Type.Unknown()),
};

type OptionName = keyof typeof option_schemas;
const option_names = Object.keys(option_schemas) as OptionName[];
const Options = Type.Object(option_schemas);
const options_validator = Compile(Type.Union([Type.Undefined(), Type.Null(), Options]));

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

/** After a failed Check: top-level option name ("cwd", "stdio", …) → typebox instancePath. */
type Issues = Map<string, string> | null;

/** Bun's get_truthy: undefined, null and "" are as if the option were not given. */
function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== "";
}

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

/** cmd as Bun walks it: its length and its elements (any array-like in the object form). */
interface Command {
  length: number;
  items: ArrayLike<unknown>;
}

/**
 * Validates and normalises one spawn call. `first`/`second` are exactly what the user passed to
 * spawn()/spawnSync(): `(cmd, options?)` or `({ cmd, ...options })`. Throws Bun's error otherwise.
 */
export function normalizeSpawn(first: unknown, second: unknown, sync: boolean): SpawnRequest {
  let command: Command;
  let options: unknown;
  if (Array.isArray(first)) {
    command = { length: first.length, items: first };
    options = second;
  } else if ((typeof first === "object" || typeof first === "function") && first !== null) {
    // Bun ignores the second argument in the object form.
    command = commandOf((first as { cmd?: unknown }).cmd);
    options = first;
  } else {
    throw cmdMustBeArray();
  }
  // An options value that is not an object Bun ignores; an array or a function it reads like one.
  if (typeof options === "function" || Array.isArray(options)) options = snapshot(options);
  else if (typeof options !== "object" || options === null) options = undefined;
  // cmd is not Checked: resolveCommand converts its elements in Bun's order, and never walks a
  // spoofed `length` (up to 2^32-1: ~170 s) but throws Bun's "cmd array is too large" in its place.
  const issues = options_validator.Check(options) ? null : collectIssues(options_validator.Errors(options));
  return build(command, options as OptionsShape | undefined, sync, issues);
}

/** The object form's cmd: an array as is; anything else present as Bun's array iterator sees it. */
function commandOf(cmd: unknown): Command {
  if (Array.isArray(cmd)) return { length: cmd.length, items: cmd };
  if (!present(cmd)) throw cmdMustBeArray();
  // A string is walked by its UTF-16 units; a number, a boolean, a bigint have no elements.
  if (typeof cmd === "string") return { length: cmd.length, items: cmd };
  if (typeof cmd !== "object" && typeof cmd !== "function") return { length: 0, items: [] };
  // Bun's length of an object (probed): a Map's or Set's size (its elements are undefined), none
  // for a WeakMap or WeakSet; else `length` as ToLength, kept as a u32, and without one too large
  // ({} → "cmd array is too large", { length: 2 ** 32 } → "cmd must not be empty").
  if (cmd instanceof Map || cmd instanceof Set) return { length: cmd.size, items: [] };
  if (cmd instanceof WeakMap || cmd instanceof WeakSet) return { length: 0, items: [] };
  const raw = (cmd as { length?: unknown }).length;
  if (raw === undefined) return { length: Infinity, items: [] };
  const length = Math.min(Math.max(Math.trunc(Number(raw)) || 0, 0), Number.MAX_SAFE_INTEGER) % 2 ** 32;
  return { length, items: cmd as ArrayLike<unknown> };
}

/** Bun reads an array's or a function's options by name, prototype chain included: Check the
 * same values as a plain object, read once each. */
function snapshot(source: object): OptionsShape {
  const copy: OptionsShape = {};
  for (const name of option_names) {
    const value = (source as Record<string, unknown>)[name];
    if (value !== undefined) (copy as Record<string, unknown>)[name] = value;
  }
  return copy;
}

function collectIssues(errors: readonly { instancePath: string }[]): Map<string, string> {
  const issues = new Map<string, string>();
  for (const error of errors) {
    // "/<key>…" is one option; "" alone only restates the union failure.
    const key = error.instancePath.split("/")[1];
    if (key !== undefined && !issues.has(key)) issues.set(decodePointer(key), error.instancePath);
  }
  return issues;
}

function decodePointer(part: string): string {
  return part.replaceAll("~1", "/").replaceAll("~0", "~");
}

/** One option as Bun reads it: absent (undefined), canonical, or through the schema's rule. */
function read(options: OptionsShape, name: OptionName, issues: Issues): unknown {
  const value = options[name];
  if (!present(value)) return undefined;
  const rule = issues?.has(name) ? (option_schemas[name] as { bun?: Rule }).bun : undefined;
  return rule ? rule(value) : value;
}

function build(command: Command, options: OptionsShape | undefined, sync: boolean, issues: Issues): SpawnRequest {
  if (options === undefined || options === null) {
    const resolved = resolveCommand(command, "", startup_path, "");
    return request(resolved, startup_envp as string[], "", defaultSlots(sync), false, undefined);
  }
  const argv0 = readPath(options, "argv0", issues);
  const cwd = readPath(options, "cwd", issues);
  if (sync && present(options.terminal)) {
    throw argError("ERR_INVALID_ARG_TYPE", "terminal option is only supported for Bun.spawn, not Bun.spawnSync");
  }
  // spawnSync ignores ipc and serialization, as Bun does.
  const ipc = sync ? undefined : readIpcOptions(read(options, "ipc", issues), read(options, "serialization", issues));
  const signal = readSignal(read(options, "signal", issues) as AbortSignal | undefined);
  const onDisconnect = read(options, "onDisconnect", issues) as SpawnRequest["onDisconnect"];
  const onExit = read(options, "onExit", issues) as SpawnRequest["onExit"];
  let envp = startup_envp as string[];
  let path = startup_path;
  const env = read(options, "env", issues);
  if (env !== undefined) {
    const converted = convertEnv(env as Record<string, unknown>);
    envp = converted.envp;
    path = converted.path;
  }
  const resolved = resolveCommand(command, argv0, path, cwd);
  const slots = readStdio(options, sync, issues);
  // Bun reads uid, gid and cgroup right after stdio; deathSignal and rlimits come with them.
  const setup = readChildSetup(options, issues);
  // Then timeout, then killSignal (for spawn, before terminal).
  const limits = readLimits(options, signal);
  const maxMemory = readMaxMemory(options);
  const detached = read(options, "detached", issues) === true;
  const lazy = !sync && read(options, "lazy", issues) === true;
  const terminal = !sync && present(options.terminal) ? readTerminalOption(options.terminal) : undefined;
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

/** argv0 or cwd, converted as Bun converts it; "" when absent. */
function readPath(options: OptionsShape, name: "argv0" | "cwd", issues: Issues): string {
  const value = read(options, name, issues) as string | undefined;
  if (value === undefined || value === "") return "";
  if (value.includes("\0")) throw nullByteError(`property 'options.${name}'`, value, true);
  return value;
}

/** An AbortSignal or nothing; one already aborted throws Bun's AbortError here, before any launch
 * and before every later check (a missing command included). */
function readSignal(signal: AbortSignal | undefined): AbortSignal | undefined {
  if (signal?.aborted) throw abortError(signal.reason);
  return signal;
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
    const value = toBunString(raw) as string;
    if (value.includes("\0")) throw nullByteError(`property 'options.env['${key}']'`, value, false);
    if (key === "PATH") path = value;
    envp.push(`${key}=${value}`);
  }
  return { envp, path };
}

/** cmd → the file to run and argv, each element through ToString as Bun converts it. */
function resolveCommand(command: Command, argv0: string, path: string, cwd: string): ResolvedCommand {
  if (command.length === 0) throw argError("ERR_INVALID_ARG_TYPE", "cmd must not be empty");
  if (command.length > max_cmd_length) throw argError("ERR_INVALID_ARG_TYPE", "cmd array is too large");
  const items = command.items;
  const name = toBunString(items[0]) as string;
  if (name.includes("\0")) throw nullByteError("argument 'args[0]'", name, true);
  const file = name.includes("/") ? name : Bun.which(name, { PATH: path || fallback_path, cwd: cwd || undefined });
  if (file === null) throw executableNotFound(name);
  const argv = new Array<string>(command.length);
  argv[0] = argv0 === "" ? name : argv0;
  for (let i = 1; i < command.length; i++) {
    const arg = toBunString(items[i]) as string;
    if (arg.includes("\0")) throw nullByteError(`argument 'args[${i}]'`, arg, false);
    argv[i] = arg;
  }
  return { file, argv };
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
    readStdioOption(slots, options.stdin, 0, sync);
    readStdioOption(slots, options.stderr, 2, sync);
    readStdioOption(slots, options.stdout, 1, sync);
    return slots;
  }
  if (stdio === null) return slots;
  if (issues?.has("stdio") && !Array.isArray(stdio)) throw argError("ERR_INVALID_ARG_TYPE", "stdio must be an array");
  for (let i = 0; i < stdio.length; i++) {
    const slot = toSlot(stdio[i], i, sync);
    if (i < 3) {
      if (slot !== undefined) slots[i] = slot;
    } else {
      slots.push(slot ?? null);
    }
  }
  return slots;
}

function readStdioOption(slots: (Slot | null)[], value: unknown, index: number, sync: boolean): void {
  const slot = toSlot(value, index, sync);
  if (slot !== undefined) slots[index] = slot;
}

/** One stdio entry → its slot; undefined keeps the default; null at index >= 3 leaves no fd. */
function toSlot(value: unknown, index: number, sync: boolean): Slot | null | undefined {
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
  if (typeof value === "number") return fdSlot(value, index);
  if (typeof value === "object" && value !== null) {
    const slot = objectSlot(value, index, sync);
    if (slot !== undefined) return slot;
  }
  throw badStdioValue(value, index);
}

function fdSlot(value: number, index: number): Slot {
  // Bun's checks, with its messages. It truncates a fraction (1.5 is fd 1) and takes NaN as 0.
  const fd = Math.trunc(value) || 0;
  if (fd < 0) throw argError("ERR_INVALID_ARG_TYPE", "file descriptor must be a positive integer");
  if (fd > max_fd) throw argError("ERR_INVALID_ARG_TYPE", `file descriptor must be a valid integer, received: ${value}`);
  if (index === 0 && (fd === 1 || fd === 2)) {
    throw argError("ERR_INVALID_ARG_TYPE", "stdout and stderr cannot be used for stdin");
  }
  if ((index === 1 || index === 2) && fd === 0) {
    throw argError("ERR_INVALID_ARG_TYPE", "stdin cannot be used for stdout or stderr");
  }
  return { kind: "fd", fd };
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
