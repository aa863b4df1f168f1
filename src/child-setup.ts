// The options that change who and where the child is before it runs: uid, gid, cgroup,
// deathSignal and rlimits. Schemas for options.ts, Bun's messages for bad values (probed against
// Bun 1.4.5; deathSignal as Bun's main branch validates killSignal), and the errors of the steps
// the engine runs in the child. Left out: anything Windows (Bun fails there with ENOTSUP).
import Type from "typebox";
import { closeSync, constants as fsConstants, fstatSync, openSync } from "node:fs";
import { argError, errnoCode, errnoDescription, nullByteError, systemError } from "./errors.ts";
import { signalNumber } from "./signals.ts";
import type { ChildSetup } from "./plan.ts";

// ---------------------------------------------------------------------------------------------
// Schemas: exactly the values that need no explanation. Anything else fails Check and is
// explained by the readers below (NaN for uid/gid, which Bun ignores, included).

const int32 = { minimum: -(2 ** 31), maximum: 2 ** 31 - 1 };
const Id = Type.Optional(Type.Union([Type.Null(), Type.Integer(int32)]));
/** Infinity itself: typebox's Literal and Number take finite numbers only (since 1.1). */
export const Infinite = Type.Unsafe<number>({ const: Infinity });
const LimitValue = Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Infinite]);
const Limit = Type.Union([
  LimitValue,
  Type.Object({ soft: Type.Optional(LimitValue), hard: Type.Optional(LimitValue) }, { additionalProperties: false }),
]);

/** RLIMIT_* numbers on Linux (the same on x86_64 and aarch64). */
const rlimit_numbers = {
  cpu: 0, fsize: 1, data: 2, stack: 3, core: 4, rss: 5, nproc: 6, nofile: 7,
  memlock: 8, as: 9, locks: 10, sigpending: 11, msgqueue: 12, nice: 13, rtprio: 14, rttime: 15,
} as const;
export type RlimitName = keyof typeof rlimit_numbers;
const rlimit_names = Object.keys(rlimit_numbers) as RlimitName[];

/** The schema entries options.ts merges into its Options object. */
export const child_setup_schema = {
  uid: Id,
  gid: Id,
  cgroup: Type.Optional(Type.Union([Type.Null(), Type.String(), Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 })])),
  deathSignal: Type.Optional(Type.Union([Type.Null(), Type.String(), Type.Integer({ minimum: 1, maximum: 31 })])),
  rlimits: Type.Optional(Type.Union([
    Type.Null(),
    Type.Object(Object.fromEntries(rlimit_names.map((name) => [name, Type.Optional(Limit)])), { additionalProperties: false }),
  ])),
};

/** Sentinels shared with abi.zig: leave the inherited value / RLIM_INFINITY. */
const rlim_infinity = 2n ** 64n - 1n;
const rlim_keep = 2n ** 64n - 2n;

type Issues = ReadonlyMap<string, string> | null;
type Options = Record<string, unknown>;

/**
 * Reads the child-setup options in Bun's order (uid, gid, cgroup: right after stdio; then
 * deathSignal and rlimits). Returns undefined when none is given, so the common plan stays small.
 */
export function readChildSetup(options: Options, issues: Issues): ChildSetup | undefined {
  const uid = readId(options, "uid", issues);
  const gid = readId(options, "gid", issues);
  const cgroup = readCgroup(options.cgroup);
  const deathSignal = readDeathSignal(options.deathSignal);
  const rlimits = readRlimits(options.rlimits, issues?.has("rlimits") ?? false);
  if (uid < 0 && gid < 0 && !cgroup && deathSignal === 0 && rlimits.length === 0) return undefined;
  return {
    uid,
    gid,
    cgroupPath: typeof cgroup === "string" ? cgroup : "",
    cgroupFd: typeof cgroup === "number" ? cgroup : -1,
    deathSignal,
    rlimits,
    keepNofile: false,
  };
}

/** uid/gid as Bun reads them: an int32 (NaN, null and undefined mean "unchanged"), passed to the
 * kernel as its unsigned bit pattern (Bun turns gid -5 into 4294967291; uid -1 fails with EINVAL).
 * Returns -1 for "unchanged", else the u32 value. */
function readId(options: Options, name: "uid" | "gid", issues: Issues): number {
  const value = options[name];
  if (!issues?.has(name) || value === undefined || value === null) {
    return value === undefined || value === null ? -1 : (value as number) >>> 0;
  }
  if (typeof value !== "number") {
    throw argError("ERR_INVALID_ARG_TYPE", `The "${name}" property must be of type number. Received ${typeof value}`);
  }
  if (Number.isNaN(value)) return -1;
  if (!Number.isFinite(value) || value < int32.minimum || value > int32.maximum) {
    throw argError(
      "ERR_OUT_OF_RANGE",
      `The value of "${name}" is out of range. It must be >= ${int32.minimum} and <= ${int32.maximum}. Received ${value}`,
      RangeError,
    );
  }
  throw argError("ERR_INVALID_ARG_TYPE", `The "${name}" property must be of type integer. Received number`);
}

// ---------------------------------------------------------------------------------------------
// cgroup: checked here the way Bun checks it before it spawns (open the path, fcntl the fd), so
// a missing cgroup throws synchronously with Bun's error; joining it is the engine's clone3.

function readCgroup(value: unknown): string | number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") {
    if (value.includes("\0")) throw nullByteError("property 'options.cgroup'", value, true);
    let fd: number;
    try {
      fd = openSync(value, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    } catch (error) {
      throw systemError(-((error as { errno?: number }).errno ?? -2), "open", value);
    }
    closeSync(fd);
    return value;
  }
  if (typeof value === "number") {
    if (!Number.isInteger(value) && Number.isFinite(value)) {
      throw argError("ERR_INVALID_ARG_TYPE", `The "cgroup" property must be of type integer. Received number`);
    }
    if (Number.isNaN(value)) {
      throw argError("ERR_OUT_OF_RANGE", `The value of "cgroup" is out of range. It must be an integer. Received NaN`, RangeError);
    }
    if (value < 0 || value > 2 ** 31 - 1) {
      throw argError("ERR_OUT_OF_RANGE", `The value of "cgroup" is out of range. It must be >= 0 and <= 2147483647. Received ${value}`, RangeError);
    }
    try {
      fstatSync(value);
    } catch {
      throw fdSystemError(9, "fcntl", value);
    }
    return value + 0;
  }
  throw argError("ERR_INVALID_ARG_TYPE", `The "cgroup" argument must be of type string or number. Received ${describeValue(value)}`);
}

/** Bun's SystemError that names an fd instead of a path: keys code, fd, syscall, errno. */
function fdSystemError(errno: number, syscall: string, fd: number): Error {
  const error = new Error(`${errnoCode(errno)}: ${errnoDescription(errno)}, ${syscall}`);
  for (const [key, value] of [["code", errnoCode(errno)], ["fd", fd], ["syscall", syscall], ["errno", -errno]] as const) {
    Object.defineProperty(error, key, { value, writable: true, enumerable: true, configurable: false });
  }
  return error;
}

/** Node's "Received …" wording for a wrong type. */
export function describeValue(value: unknown): string {
  if (typeof value === "function") return `function ${value.name || "(anonymous)"}`;
  if (typeof value === "object" && value !== null) {
    const name = (value as { constructor?: { name?: string } }).constructor?.name;
    return name ? `an instance of ${name}` : Bun.inspect(value);
  }
  return `type ${typeof value} (${String(value)})`;
}

/** The engine's cgroup stage (abi.zig Stage.cgroup): the path could not be joined (clone3, or a
 * v1 cgroup.procs). Bun names the path, or the fd when the cgroup was given as one. */
export function cgroupError(errno: number, setup: ChildSetup | undefined): Error {
  if (setup && !setup.cgroupPath && setup.cgroupFd >= 0) {
    return fdSystemError(errno, errno === 9 ? "fcntl" : "clone3", setup.cgroupFd);
  }
  return systemError(errno, "clone3", setup?.cgroupPath);
}

export const stage_cgroup = 7;

// ---------------------------------------------------------------------------------------------
// deathSignal: validated as Bun's main branch validates it (the killSignal rules, and 0, which
// would mean "none" to prctl, is ERR_UNKNOWN_SIGNAL).

function readDeathSignal(value: unknown): number {
  if (value === undefined || value === null) return 0;
  let signal: number;
  if (typeof value === "number") {
    if (Number.isNaN(value)) return 15; // Bun's SignalCode.default, as for killSignal
    if (!Number.isInteger(value)) throw argError("ERR_INVALID_ARG_TYPE", "Unknown signal");
    signal = signalNumber(value);
  } else if (typeof value === "string") {
    signal = value === "" ? 15 : signalNumber(value);
  } else {
    throw argError("ERR_INVALID_ARG_TYPE", "Invalid signal: must be a string or an integer");
  }
  if (signal === 0) throw argError("ERR_UNKNOWN_SIGNAL", "Unknown signal: 0");
  return signal;
}

// ---------------------------------------------------------------------------------------------
// rlimits (forkless only): { nofile: 1024 } sets soft and hard (as prlimit --nofile=1024 and
// systemd's LimitNOFILE= do); { nofile: { soft: 1024 } } only the soft one; Infinity is
// RLIM_INFINITY; { nofile: {} } keeps what the parent has (no default lowering to 1024).

function readRlimits(value: unknown, failed: boolean): [number, bigint, bigint][] {
  if (value === undefined || value === null) return [];
  if (failed) explainRlimits(value);
  const out: [number, bigint, bigint][] = [];
  for (const name of rlimit_names) {
    const limit = (value as Record<string, unknown>)[name];
    if (limit === undefined) continue;
    const pair = typeof limit === "number" ? { soft: limit, hard: limit } : (limit as { soft?: number; hard?: number });
    const soft = toRlim(pair.soft);
    const hard = toRlim(pair.hard);
    if (soft !== rlim_keep && hard !== rlim_keep && soft > hard) {
      throw argError(
        "ERR_OUT_OF_RANGE",
        `The value of "options.rlimits.${name}.soft" is out of range. It must be <= the hard limit (${pair.hard}). Received ${pair.soft}`,
        RangeError,
      );
    }
    out.push([rlimit_numbers[name], soft, hard]);
  }
  return out;
}

function toRlim(value: number | undefined): bigint {
  if (value === undefined) return rlim_keep;
  return value === Infinity ? rlim_infinity : BigInt(value);
}

function explainRlimits(value: unknown): never {
  if (typeof value !== "object" || Array.isArray(value)) {
    throw argError("ERR_INVALID_ARG_TYPE", `The "options.rlimits" property must be an object. Received ${describeValue(value)}`);
  }
  for (const [name, limit] of Object.entries(value as object)) {
    if (!(name in rlimit_numbers)) {
      throw argError("ERR_INVALID_ARG_VALUE", `The "options.rlimits" property has an unknown limit '${name}'. Expected one of ${rlimit_names.join(", ")}`);
    }
    const ok = (v: unknown) => v === undefined || v === Infinity || (Number.isSafeInteger(v) && (v as number) >= 0);
    if (typeof limit === "number" && ok(limit)) continue;
    if (typeof limit === "object" && limit !== null && !Array.isArray(limit)) {
      const extra = Object.keys(limit).find((k) => k !== "soft" && k !== "hard");
      const soft = (limit as { soft?: unknown }).soft;
      const hard = (limit as { hard?: unknown }).hard;
      if (extra === undefined && ok(soft) && ok(hard)) continue;
    }
    throw argError(
      "ERR_INVALID_ARG_TYPE",
      `The "options.rlimits.${name}" property must be a non-negative integer, Infinity, or { soft?, hard? } of those. Received ${describeValue(limit)}`,
    );
  }
  throw argError("ERR_INVALID_ARG_TYPE", `The "options.rlimits" property is invalid`);
}
