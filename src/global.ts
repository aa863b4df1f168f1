// The runtime plugin: `preload = ["forkless/global"]` in bunfig.toml makes every Bun.spawn and
// Bun.spawnSync in the program, its dependencies included, a forkless launch, and Bun.Terminal
// forkless's Terminal (a Bun.Terminal's PTY cannot be handed to forkless). The originals stay
// reachable as `Bun.spawn.original` for code that must have Bun's own. Bun.spawnAndWait is
// swapped only where Bun has it (its PR is still open): the preload replaces Bun's functions, it
// does not add ones a program's feature tests would then find in a Bun that lacks them.
// node:child_process (and execa, zx, … above it) runs on Bun.spawn, so it gets forkless too; its
// stdout and stderr getters are wrapped only to learn when their streams are done (stdio.ts).
import { ChildProcess } from "node:child_process";
import { spawn, spawnAndWait, spawnSync, Terminal } from "./index.ts";
import { adoptNativeStreams } from "./stdio.ts";

const originals = { spawn: Bun.spawn, spawnSync: Bun.spawnSync, spawnAndWait: (Bun as unknown as { spawnAndWait?: unknown }).spawnAndWait };
if ((Bun.spawn as { forkless?: boolean }).forkless !== true) {
  Object.assign(spawn, { forkless: true, original: originals.spawn });
  Object.assign(spawnSync, { forkless: true, original: originals.spawnSync });
  (Bun as { spawn: unknown }).spawn = spawn;
  (Bun as { spawnSync: unknown }).spawnSync = spawnSync;
  if (typeof originals.spawnAndWait === "function") {
    Object.assign(spawnAndWait, { forkless: true, original: originals.spawnAndWait });
    (Bun as unknown as { spawnAndWait: unknown }).spawnAndWait = spawnAndWait;
  }
  (Bun as { Terminal: unknown }).Terminal = Terminal;
  for (const name of ["stdout", "stderr"] as const) closeWhenNodeStreamCloses(name);
}

/**
 * ChildProcess makes a Node Readable over `subprocess.stdout` in its getter, reading the stream
 * natively: our fd for it can close once that Readable is destroyed (at its end, or by the
 * program), and must, for the child's next write to fail as under Bun (execa's maxBuffer waits
 * for that). It closes right after the Readable's own _destroy, which cancels Bun's reader: the
 * moment Bun closes its own pipe end.
 */
function closeWhenNodeStreamCloses(name: "stdout" | "stderr"): void {
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
