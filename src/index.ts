// forkless: Bun.spawn and Bun.spawnSync, launched without pausing the JS thread, with exact fd
// inheritance and a clean signal state in every child. Exports only.
import { normalizeSpawn } from "./options.ts";
import { startSubprocess, Subprocess } from "./subprocess.ts";
import { runSync, type SyncSubprocess } from "./sync.ts";
import { spawnIn, spawnSyncIn } from "./container.ts";

export { Subprocess };
export type { SyncSubprocess };
export type { ResourceUsage } from "./resource.ts";

/** Same calls as Bun.spawn: spawn(cmd, options?) or spawn({ cmd, ...options }). */
export function spawn(cmd: unknown, options?: unknown): Subprocess {
  const request = normalizeSpawn(cmd, options, false);
  return request.container ? spawnIn(request.container, request) : startSubprocess(request);
}

/** Same calls as Bun.spawnSync. */
export function spawnSync(cmd: unknown, options?: unknown): SyncSubprocess {
  const request = normalizeSpawn(cmd, options, true);
  return request.container ? spawnSyncIn(request.container, request) : runSync(request);
}
export { template, Template, type TemplateOverrides } from "./template.ts";
export { Terminal, type TerminalOptions } from "./terminal.ts";
export { Container, type ContainerOptions } from "./container.ts";
