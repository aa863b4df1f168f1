// Hook rows for forkless's extras, added only when src/index.ts exports them: template() (issue 5)
// and Container (issue 4); otherwise the table says "not available". Both are driven through the
// same Launcher as every other column, so a hook row runs exactly its base row's scenario.
import { readFileSync } from "node:fs";
// Types only: forkless itself is handed in by the caller, and may lack what these rows use.
import type { Subprocess, SyncSubprocess } from "../src/index.ts";
import { bunLikeLauncher, type Launcher } from "./launchers.ts";

/** A launcher plus what must be released after its row. */
export interface Hook {
  launcher: Launcher;
  dispose(): Promise<void> | void;
  /** A footnote for the row, read after its rounds and before dispose(). */
  note?(): string | undefined;
}

interface TemplateLike {
  spawn(): Subprocess;
  spawnSync(): SyncSubprocess;
  close(): void;
}

/**
 * Every distinct (cmd, stdio, env) the launcher asks for becomes one template, made on first use
 * and launched from then on: a row times the launches, not the preparation.
 */
export function templateHook(forkless: Record<string, unknown>): Hook | string {
  if (!("template" in forkless)) return "not available (src/index.ts exports no template)";
  const template = forkless.template as (cmd: string[], options: object) => TemplateLike;
  const prepared = new Map<string, TemplateLike>();
  const env_ids = new WeakMap<object, number>(); // env objects are reused by the rows: key by identity
  let next_env_id = 1;
  const keyOf = (cmd: string[], options: Record<string, unknown>) => {
    const env = options.env as object | undefined;
    if (env && !env_ids.has(env)) env_ids.set(env, next_env_id++);
    return [cmd.join("\0"), options.stdin, options.stdout, options.stderr, env ? env_ids.get(env) : 0].join("|");
  };
  const get = (cmd: string[], options: Record<string, unknown>) => {
    const key = keyOf(cmd, options);
    let t = prepared.get(key);
    if (!t) prepared.set(key, (t = template(cmd, options)));
    return t;
  };
  const spawn = ((cmd: string[], options: Record<string, unknown>) => get(cmd, options).spawn()) as unknown as typeof Bun.spawn;
  const spawnSync = ((cmd: string[], options: Record<string, unknown>) => get(cmd, options).spawnSync()) as unknown as typeof Bun.spawnSync;
  return {
    launcher: bunLikeLauncher({ spawn, spawnSync }, "forkless template()"),
    dispose: () => prepared.forEach((t) => t.close()),
  };
}

/** Spawns through one forkless Container, whose helper process holds almost no fds. */
export function containerHook(forkless: Record<string, unknown>): Hook | string {
  if (!("Container" in forkless)) return "not available (src/index.ts exports no Container)";
  const Container = forkless.Container as new () => { spawn: typeof Bun.spawn; spawnSync: typeof Bun.spawnSync; close(): Promise<void>; helperPid?: number };
  const container = new Container();
  return {
    launcher: bunLikeLauncher({ spawn: container.spawn.bind(container), spawnSync: container.spawnSync.bind(container) }, "forkless Container"),
    dispose: () => container.close(),
    note: () => helperMemory(container.helperPid),
  };
}

/** The helper's resident set now and at its peak (issue 4's goal: under 1 MiB). */
function helperMemory(pid: number | undefined): string | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "latin1");
    const field = (name: string) => status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"))?.[1];
    return `the Container's helper (pid ${pid}): resident ${field("VmRSS")} kB, peak ${field("VmHWM")} kB`;
  } catch {
    return undefined;
  }
}
