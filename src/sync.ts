// spawnSync: one blocking engine call, then the result object with Bun's fields in Bun's order
// (signalCode only when a signal ended the child; exitedDueToTimeout only with a timeout,
// exitedDueToMaxBuffer only with a maxBuffer, exitedDueToMaxMemory only with a maxMemory, all
// after resourceUsage). spawnAndWait (Bun's open PR #36893) builds the same object from a
// Subprocess, so the event loop runs meanwhile.
import { launchSync, syncPidCell, type SyncOutcome } from "./native.ts";
import type { SpawnPlan, SpawnRequest } from "./plan.ts";
import { syncTimeoutMs, type Limits } from "./limits.ts";
import { launchFailure, type Defaulted, type Handed, type OutputOption, type Subprocess } from "./subprocess.ts";
import { signalName } from "./signals.ts";
import { resourceUsageOf, type ResourceUsage } from "./resource.ts";
import { givenFd } from "./stdio.ts";
import { withSources } from "./stdio-sources.ts";
import { prepareMemory, watchSync } from "./memory.ts";
import { argError } from "./errors.ts";

/** What stdout or stderr is for its option: as for a Subprocess, with a Buffer for a pipe (the
 * default of both). */
export type SyncOutputOf<X extends OutputOption> = Handed<Defaulted<X, "pipe">, Buffer>;

export interface SyncSubprocess<Out extends OutputOption = OutputOption, Err extends OutputOption = OutputOption> {
  exitCode: number | null;
  signalCode?: string | number | null;
  stdout: SyncOutputOf<Out>;
  stderr: SyncOutputOf<Err>;
  success: boolean;
  resourceUsage: ResourceUsage;
  exitedDueToTimeout?: boolean;
  exitedDueToMaxBuffer?: boolean;
  /** With `maxMemory`: whether its limit ended the child (Bun's main branch). */
  exitedDueToMaxMemory?: boolean;
  pid: number;
}

/** How a plan is run to its end: directly (the default), from a template, or in a container. */
export type SyncLauncher = (plan: SpawnPlan, limits: Limits | undefined) => SyncOutcome;

const direct: SyncLauncher = (plan, limits) => launchSync(plan, 0, limits);

/** How one child ended, whichever way it was run. */
interface SyncEnd {
  exitCode: number | null;
  signalCode: string | number | null;
  /** undefined where the slot is not a pipe: the result shows the user's fd, or undefined. */
  stdout: Buffer | undefined;
  stderr: Buffer | undefined;
  resourceUsage: ResourceUsage;
  pid: number;
  timedOut: boolean;
  maxBufferExceeded: boolean;
  maxMemoryExceeded: boolean;
}

/** The result object, in Bun's field order. */
function syncResult(request: SpawnRequest, end: SyncEnd): SyncSubprocess {
  const limits = request.limits;
  const result: Partial<SyncSubprocess> = { exitCode: end.exitCode };
  if (end.signalCode !== null) result.signalCode = end.signalCode;
  // Bun hands back the user's own fd number where one was given.
  result.stdout = end.stdout ?? givenFd(request.plan.slots, 1);
  result.stderr = end.stderr ?? givenFd(request.plan.slots, 2);
  result.success = end.exitCode === 0;
  result.resourceUsage = end.resourceUsage;
  if (limits?.timeoutMs) result.exitedDueToTimeout = end.timedOut;
  if (limits?.maxBuffer) result.exitedDueToMaxBuffer = end.maxBufferExceeded;
  if (request.maxMemory) result.exitedDueToMaxMemory = end.maxMemoryExceeded;
  result.pid = end.pid;
  return result as SyncSubprocess;
}

/** `perLaunchCgroup`: the launcher honours a cgroup given per launch (a template's cannot). */
export function runSync(request: SpawnRequest, launchPlan: SyncLauncher = direct, perLaunchCgroup = true): SyncSubprocess {
  const limits = request.limits;
  // Files and memfds for Bun.file / buffer stdin are open only around the call (stdio-sources.ts).
  const engineLimits = limits && { ...limits, timeoutMs: syncTimeoutMs(limits) };
  const memory = prepareMemory(request, perLaunchCgroup);
  // The engine blocks this thread: maxMemory is watched from a sampler thread meanwhile.
  const watch = memory && watchSync(memory, syncPidCell);
  let outcome: SyncOutcome;
  let maxMemoryExceeded = false;
  try {
    outcome = withSources(memory?.plan ?? request.plan, request.command, (plan) => launchPlan(plan, engineLimits));
  } finally {
    maxMemoryExceeded = watch?.end() ?? false;
  }
  if (outcome.stage !== 0) throw launchFailure(request, outcome);
  return syncResult(request, {
    exitCode: outcome.exitCode,
    signalCode: signalName(outcome.signal),
    stdout: outcome.stdout,
    stderr: outcome.stderr,
    resourceUsage: resourceUsageOf(outcome.rusage),
    pid: outcome.pid,
    // With a `timeout`, Bun sets the field for a kill by an AbortSignal.timeout too (probed).
    timedOut: outcome.timedOut === true,
    maxBufferExceeded: outcome.maxBufferExceeded === true,
    maxMemoryExceeded,
  });
}

// ---------------------------------------------------------------------------------------------
// spawnAndWait: spawnSync's options and result, on a spawn() child.

/** What spawnAndWait refuses beyond spawnSync's checks, with PR #36893's messages. */
export function refuseForSpawnAndWait(first: unknown, second: unknown): void {
  const options = (Array.isArray(first) ? second : first) as { terminal?: unknown; stdio?: unknown } | null | undefined;
  if (typeof options !== "object" || options === null) return;
  if (options.terminal) {
    throw argError("ERR_INVALID_ARG_TYPE", "terminal option is only supported for Bun.spawn, not Bun.spawnAndWait");
  }
  if (Array.isArray(options.stdio) && options.stdio.some((value, i) => i >= 3 && value === "socket-fd")) {
    throw argError("ERR_INVALID_ARG_TYPE", "stdio: 'socket-fd' cannot be used with spawnSync or spawnAndWait");
  }
}

/** spawnSync's request as spawn() runs it: no onExit (spawnAndWait ignores it, as the PR does),
 * outputs read from the start (no lazy). */
export function asyncRequestFor(request: SpawnRequest): SpawnRequest {
  return { ...request, onExit: undefined, lazy: undefined };
}

/** Resolves once the child has exited and its stdout and stderr have ended. */
export async function settleSubprocess(child: Subprocess, request: SpawnRequest): Promise<SyncSubprocess> {
  const read = async (stream: unknown) =>
    stream instanceof ReadableStream ? Buffer.from(await (stream as ReadableStream<Uint8Array>).bytes()) : undefined;
  const [, stdout, stderr] = await Promise.all([child.exited, read(child.stdout), read(child.stderr)]);
  const hit = child._limitHit;
  return syncResult(request, {
    exitCode: child.exitCode,
    signalCode: child.signalCode,
    stdout,
    stderr,
    resourceUsage: child.resourceUsage()!,
    pid: child.pid,
    timedOut: hit === "timeout",
    maxBufferExceeded: hit === "maxBuffer",
    maxMemoryExceeded: child.exitedDueToMaxMemory,
  });
}
