// Which engine this process runs on, and where its files are. No bun:ffi here: on a platform
// without a native engine nothing may be loaded, and spawn() falls back to Bun's (fallback.ts).
//
// The native engine (libforkless.so and the container's static forkless-helper) is found, in
// this order:
//   1. FORKLESS_LIBRARY / FORKLESS_HELPER, each for its own file, when set;
//   2. the platform package, @forkless/<platform>, an optional dependency of forkless that the
//      package manager installs only where its os, cpu and libc match;
//   3. the repository's own zig/zig-out (development).
// FORKLESS_ENGINE=bun chooses the fallback on any platform (to try a program as it runs on a Mac).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** The Linux builds that ship, by `${arch}-${libc}`. */
const NATIVE_PLATFORMS = new Set(["x64-gnu", "x64-musl", "arm64-gnu", "arm64-musl"]);

export type Engine =
  | { kind: "native"; platform: string; library: string; helper: string; source: string }
  | { kind: "bun"; platform: string; /** Completes "the native engine …". */ reason: string };

/** The C library Bun itself runs on: the one a library it loads must be linked against. */
function libcOf(): "gnu" | "musl" {
  try {
    const maps = readFileSync("/proc/self/maps", "utf8");
    if (/\/ld-musl-|\/libc\.musl-/.test(maps)) return "musl";
    if (/\/libc\.so\.6|\/ld-linux/.test(maps)) return "gnu";
  } catch {
    // No /proc (a sandbox): the loader on disk is the next best witness.
  }
  const arch = process.arch === "x64" ? "x86_64" : process.arch === "arm64" ? "aarch64" : process.arch;
  return existsSync(`/lib/ld-musl-${arch}.so.1`) ? "musl" : "gnu";
}

/** What locate() looks at; the defaults are this process's. */
export interface Surroundings {
  os: string;
  arch: string;
  libc: () => "gnu" | "musl";
  env: Record<string, string | undefined>;
  /** The directory of an installed package, or undefined. */
  packageDirectory: (name: string) => string | undefined;
  exists: (path: string) => boolean;
  /** The repository's zig/zig-out. */
  zigOut: string;
}

const here: Surroundings = {
  os: process.platform,
  arch: process.arch,
  libc: libcOf,
  env: process.env,
  packageDirectory(name) {
    try {
      return dirname(Bun.resolveSync(`${name}/package.json`, import.meta.dir));
    } catch {
      return undefined;
    }
  },
  exists: existsSync,
  zigOut: join(import.meta.dir, "..", "zig", "zig-out"),
};

export function locate(at: Surroundings = here): Engine {
  const libc = at.os === "linux" ? at.libc() : undefined;
  const platform = libc ? `linux-${at.arch}-${libc}` : `${at.os}-${at.arch}`;
  if (at.env.FORKLESS_ENGINE === "bun") return { kind: "bun", platform, reason: "is turned off (FORKLESS_ENGINE=bun)" };
  const fromEnvironment = (variable: "FORKLESS_LIBRARY" | "FORKLESS_HELPER") => {
    const path = at.env[variable];
    if (path === undefined || path === "") return undefined;
    if (!at.exists(path)) {
      const what = variable === "FORKLESS_LIBRARY" ? "a libforkless.so" : "a forkless-helper";
      throw new Error(`forkless: ${variable} is set to ${path}, which does not exist; point it at ${what} built for ${platform}, or unset it`);
    }
    return path;
  };
  const library = fromEnvironment("FORKLESS_LIBRARY");
  const helper = fromEnvironment("FORKLESS_HELPER");
  const key = `${at.arch}-${libc}`;
  if (!library && !(libc && NATIVE_PLATFORMS.has(key))) return { kind: "bun", platform, reason: `does not exist for ${platform}` };
  const packageName = `@forkless/linux-${key}`;
  const candidates: [library: string, helper: string, source: string][] = [];
  const installed = at.packageDirectory(packageName);
  if (installed) candidates.push([join(installed, "libforkless.so"), join(installed, "forkless-helper"), packageName]);
  candidates.push([join(at.zigOut, "lib", "libforkless.so"), join(at.zigOut, "bin", "forkless-helper"), "the repository's zig/zig-out"]);
  const found = candidates.find(([file]) => at.exists(file));
  if (library) return { kind: "native", platform, library, helper: helper ?? found?.[1] ?? "", source: "FORKLESS_LIBRARY" };
  if (!found) {
    throw new Error(
      `forkless: no native engine found for ${platform} (${at.arch}, ${libc === "musl" ? "musl" : "glibc"}): ` +
        `the package ${packageName} is not installed. It is an optional dependency of forkless, installed where its os, cpu and libc match: ` +
        `reinstall forkless without --omit=optional / --no-optional (or add ${packageName} at forkless's version), ` +
        `set FORKLESS_LIBRARY to a libforkless.so built for ${platform}, or, in forkless's repository, run \`npm run build\``,
    );
  }
  return { kind: "native", platform, library: found[0], helper: helper ?? found[1], source: found[2] };
}

export const engine: Engine = locate();
