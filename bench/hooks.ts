// HOOKS for features that are still being written: template() (issue 5) and Container (issue 4).
// A row using them is added only when src/index.ts exports the name; otherwise the table says
// "not available". The call shapes below are the bench's assumption — when the real API lands,
// adjust `templateLauncher` / `containerLauncher` here and nowhere else. Nothing is simulated.
import { bunLikeLauncher, type Launcher } from "./launchers.ts";

// The hook rows only spawn and wait; a sync call through a hook is a bench bug.
const noSync = (() => {
  throw new Error("spawnSync is not part of the template/Container hook rows");
}) as unknown as typeof Bun.spawnSync;

/** A Launcher whose spawns go through forkless's `template()`, or why there is none. */
export function templateLauncher(forkless: Record<string, unknown>): Launcher | string {
  if (!("template" in forkless)) return "not available (src/index.ts exports no template)";
  // ASSUMED SHAPE: template(cmd, options) → { spawn(): Subprocess } — prepared once, launched many times.
  const template = forkless.template as (cmd: string[], options: object) => { spawn(): Subprocess };
  const prepared = new Map<string, { spawn(): Subprocess }>();
  const spawn = ((cmd: string[], options: object) => {
    const key = JSON.stringify([cmd, options]);
    let t = prepared.get(key);
    if (!t) prepared.set(key, (t = template(cmd, options)));
    return t.spawn();
  }) as unknown as typeof Bun.spawn;
  return bunLikeLauncher({ spawn, spawnSync: noSync }, "forkless template()");
}

/** A Launcher whose spawns go through a forkless Container (its helper holds almost no fds). */
export function containerLauncher(forkless: Record<string, unknown>): { launcher: Launcher; dispose(): void } | string {
  if (!("Container" in forkless)) return "not available (src/index.ts exports no Container)";
  // ASSUMED SHAPE: new Container() → { spawn(cmd, options): Subprocess, [Symbol.dispose]() or close() }.
  const Container = forkless.Container as new () => { spawn: typeof Bun.spawn; close?(): void; [Symbol.dispose]?(): void };
  const container = new Container();
  const spawn = ((cmd: string[], options: object) => container.spawn(cmd, options)) as unknown as typeof Bun.spawn;
  return {
    launcher: bunLikeLauncher({ spawn, spawnSync: noSync }, "forkless Container"),
    dispose: () => (container[Symbol.dispose] ? container[Symbol.dispose]!() : container.close?.()),
  };
}
