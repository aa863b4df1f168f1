// forkless: Bun.spawn and Bun.spawnSync, launched without pausing the JS thread, with exact fd
// inheritance and a clean signal state in every child. Exports only.
import { normalizeSpawn, type SpawnOptions, type SpawnSyncOptions } from "./options.ts";
import { startSubprocess, Subprocess, type OutputOption, type StdinOption } from "./subprocess.ts";
import { asyncRequestFor, refuseForSpawnAndWait, runSync, settleSubprocess, type SyncSubprocess } from "./sync.ts";
import { spawnIn, spawnSyncIn } from "./container.ts";
import { engine as located } from "./engine.ts";
import { fallbackSpawn, fallbackSpawnAndWait } from "./fallback.ts";

/** "native" where forkless's engine runs (Linux x64 and arm64, glibc and musl); "bun" elsewhere,
 * or with FORKLESS_ENGINE=bun: spawn, spawnSync, spawnAndWait and templates then run on Bun's
 * own spawn, and what needs the engine (a Container, rlimits, maxMemory, deathSignal) throws. */
export const engine: "native" | "bun" = located.kind;
const native = engine === "native";

export { Subprocess };
export type { SyncSubprocess, SpawnOptions, SpawnSyncOptions, StdinOption, OutputOption };
export type { ResourceUsage } from "./resource.ts";
export type { MemoryUsage } from "./memory.ts";

/** Same calls as Bun.spawn: spawn(cmd, options?) or spawn({ cmd, ...options }), typed as bun-types
 * types them: the stdio options decide what stdin, stdout and stderr are. */
export function spawn<
  const In extends StdinOption = "ignore",
  const Out extends OutputOption = "pipe",
  const Err extends OutputOption = "inherit",
>(options: SpawnOptions<In, Out, Err> & { cmd: string[] }): Subprocess<In, Out, Err>;
export function spawn<
  const In extends StdinOption = "ignore",
  const Out extends OutputOption = "pipe",
  const Err extends OutputOption = "inherit",
>(cmd: string[], options?: SpawnOptions<In, Out, Err>): Subprocess<In, Out, Err>;
export function spawn(cmd: unknown, options?: unknown): Subprocess {
  if (!native) return fallbackSpawn(cmd, options, false) as Subprocess;
  const request = normalizeSpawn(cmd, options, false);
  return request.container ? spawnIn(request.container, request) : startSubprocess(request);
}

/** Same calls as Bun.spawnSync. */
export function spawnSync<
  const In extends StdinOption = "ignore",
  const Out extends OutputOption = "pipe",
  const Err extends OutputOption = "pipe",
>(options: SpawnSyncOptions<In, Out, Err> & { cmd: string[] }): SyncSubprocess<Out, Err>;
export function spawnSync<
  const In extends StdinOption = "ignore",
  const Out extends OutputOption = "pipe",
  const Err extends OutputOption = "pipe",
>(cmd: string[], options?: SpawnSyncOptions<In, Out, Err>): SyncSubprocess<Out, Err>;
export function spawnSync(cmd: unknown, options?: unknown): SyncSubprocess {
  if (!native) return fallbackSpawn(cmd, options, true) as SyncSubprocess;
  const request = normalizeSpawn(cmd, options, true);
  return request.container ? spawnSyncIn(request.container, request) : runSync(request);
}

/** Bun.spawnAndWait (Bun's open PR #36893): spawnSync's options and result, as a Promise, on a
 * spawn() child, so the event loop runs meanwhile. Bad options and a missing command throw at
 * the call, as spawnSync's do; onExit, ipc and lazy are ignored, terminal and "socket-fd" refused. */
export function spawnAndWait<
  const In extends StdinOption = "ignore",
  const Out extends OutputOption = "pipe",
  const Err extends OutputOption = "pipe",
>(options: SpawnSyncOptions<In, Out, Err> & { cmd: string[] }): Promise<SyncSubprocess<Out, Err>>;
export function spawnAndWait<
  const In extends StdinOption = "ignore",
  const Out extends OutputOption = "pipe",
  const Err extends OutputOption = "pipe",
>(cmd: string[], options?: SpawnSyncOptions<In, Out, Err>): Promise<SyncSubprocess<Out, Err>>;
export function spawnAndWait(cmd: unknown, options?: unknown): Promise<SyncSubprocess> {
  if (!native) return fallbackSpawnAndWait(cmd, options) as Promise<SyncSubprocess>;
  refuseForSpawnAndWait(cmd, options);
  const request = normalizeSpawn(cmd, options, true);
  const run = asyncRequestFor(request);
  const child = run.container ? spawnIn(run.container, run) : startSubprocess(run);
  return settleSubprocess(child, request);
}
export { template, Template, type TemplateOverrides } from "./template.ts";
export { Terminal, type TerminalOptions } from "./terminal.ts";
export { Container, type ContainerOptions } from "./container.ts";
