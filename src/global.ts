// The runtime plugin: `preload = ["forkless/global"]` in bunfig.toml makes every Bun.spawn and
// Bun.spawnSync in the program, its dependencies included, a forkless launch, and Bun.Terminal
// forkless's Terminal (a Bun.Terminal's PTY cannot be handed to forkless). The originals stay
// reachable as `Bun.spawn.original` for code that must have Bun's own. Bun.spawnAndWait is
// swapped only where Bun has it (its PR is still open): the preload replaces Bun's functions, it
// does not add ones a program's feature tests would then find in a Bun that lacks them.
// node:child_process (and execa, zx, … above it) runs on Bun.spawn, so it gets forkless too; its
// stdout and stderr getters are wrapped only to learn when their streams are done (stdio.ts).
import type { ChildProcess } from "node:child_process";
import type * as Forkless from "./index.ts";

// Nothing of forkless is loaded until a program first spawns (or touches Bun.Terminal): every
// Bun process under the preload pays for it, and most never spawn (a test's `bun -e` children,
// whose own children inherit BUN_OPTIONS). The engine, the schemas and node:child_process cost
// tens of milliseconds to load; these forwarders cost nothing.
let engine: typeof Forkless | undefined;
function load(): typeof Forkless {
  if (engine) return engine;
  engine = require("./index.ts") as typeof Forkless;
  (Bun as { Terminal: unknown }).Terminal = engine.Terminal;
  return engine;
}

const originals = { spawn: Bun.spawn, spawnSync: Bun.spawnSync, spawnAndWait: (Bun as unknown as { spawnAndWait?: unknown }).spawnAndWait };
if ((Bun.spawn as { forkless?: boolean }).forkless !== true) {
  const spawn = function spawn(...args: Parameters<typeof Forkless.spawn>) {
    const forkless = load();
    if (!nodePatched && fromNodeChildProcess(args[0])) patchNodeChildProcess();
    return forkless.spawn(...args);
  };
  const spawnSync = function spawnSync(...args: Parameters<typeof Forkless.spawnSync>) {
    return load().spawnSync(...args);
  };
  const spawnAndWait = function spawnAndWait(...args: Parameters<typeof Forkless.spawnAndWait>) {
    return load().spawnAndWait(...args);
  };
  /** Bun.Terminal until forkless is loaded: it constructs forkless Terminals, and recognises them. */
  const Terminal = class Terminal {
    constructor(...args: ConstructorParameters<typeof Forkless.Terminal>) {
      return new (load().Terminal)(...args);
    }
    static [Symbol.hasInstance](value: unknown): boolean {
      return value instanceof load().Terminal;
    }
  };
  Object.assign(spawn, { forkless: true, original: originals.spawn });
  Object.assign(spawnSync, { forkless: true, original: originals.spawnSync });
  (Bun as { spawn: unknown }).spawn = spawn;
  (Bun as { spawnSync: unknown }).spawnSync = spawnSync;
  if (typeof originals.spawnAndWait === "function") {
    Object.assign(spawnAndWait, { forkless: true, original: originals.spawnAndWait });
    (Bun as unknown as { spawnAndWait: unknown }).spawnAndWait = spawnAndWait;
  }
  (Bun as { Terminal: unknown }).Terminal = Terminal;
}

/**
 * Bun's node:child_process (1.4.5) calls Bun.spawn with `lazy: true` and a boolean
 * `windowsVerbatimArguments`, options a program calling Bun.spawn itself has no reason to pass
 * together. Its first such call is when its stdout/stderr getters need wrapping (below); the
 * module is loaded by then, so requiring it costs nothing. Were Bun to change that shape, the
 * fds would still close, only at collection rather than with the Readable (see stdio.ts).
 */
function fromNodeChildProcess(options: unknown): boolean {
  return typeof options === "object" && options !== null && (options as { lazy?: unknown }).lazy === true && typeof (options as { windowsVerbatimArguments?: unknown }).windowsVerbatimArguments === "boolean";
}
let nodePatched = false;
function patchNodeChildProcess(): void {
  nodePatched = true;
  const { ChildProcess } = require("node:child_process") as typeof import("node:child_process");
  const { adoptNativeStreams } = require("./stdio.ts") as typeof import("./stdio.ts");
  for (const name of ["stdout", "stderr"] as const) closeWhenNodeStreamCloses(ChildProcess, adoptNativeStreams, name);
}

/**
 * ChildProcess makes a Node Readable over `subprocess.stdout` in its getter, reading the stream
 * natively: our fd for it can close once that Readable is destroyed (at its end, or by the
 * program), and must, for the child's next write to fail as under Bun (execa's maxBuffer waits
 * for that). It closes right after the Readable's own _destroy, which cancels Bun's reader: the
 * moment Bun closes its own pipe end.
 */
function closeWhenNodeStreamCloses(ChildProcess: typeof import("node:child_process").ChildProcess, adoptNativeStreams: typeof import("./stdio.ts").adoptNativeStreams, name: "stdout" | "stderr"): void {
  const prototype = ChildProcess.prototype;
  const original = Object.getOwnPropertyDescriptor(prototype, name);
  if (!original?.get || !original.configurable) return;
  const get = original.get;
  Object.defineProperty(prototype, name, {
    ...original,
    get(this: ChildProcess) {
      const releases: (() => void)[] = [];
      const readable = adoptNativeStreams((release) => releases.push(release), () => get.call(this));
      // Anything but a Readable leaves the fds to the collector (closing before Bun's start is unsafe).
      const destroy = readable?._destroy;
      if (releases.length > 0 && typeof destroy === "function") {
        readable._destroy = function (this: unknown, error: Error | null, callback: (error?: Error | null) => void) {
          try {
            return destroy.call(this, error, callback);
          } finally {
            for (const release of releases) release();
          }
        };
      }
      return readable;
    },
  });
}
