// forkless: Bun.spawn and Bun.spawnSync, launched without pausing the JS thread, with exact fd
// inheritance and a clean signal state in every child. Exports only.
import { normalizeSpawn } from "./options.ts";
import { startSubprocess, Subprocess } from "./subprocess.ts";
import { runSync, type SyncSubprocess } from "./sync.ts";

export { Subprocess };
export type { SyncSubprocess };
export type { ResourceUsage } from "./resource.ts";

/** Same calls as Bun.spawn: spawn(cmd, options?) or spawn({ cmd, ...options }). */
export function spawn(cmd: unknown, options?: unknown): Subprocess {
  return startSubprocess(normalizeSpawn(cmd, options, false));
}

/** Same calls as Bun.spawnSync. */
export function spawnSync(cmd: unknown, options?: unknown): SyncSubprocess {
  return runSync(normalizeSpawn(cmd, options, true));
}
export { template, Template, type TemplateOverrides } from "./template.ts";
export { Terminal, type TerminalOptions } from "./terminal.ts";
export { Container, type ContainerOptions } from "./container.ts";
