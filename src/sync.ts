// spawnSync: one blocking engine call, then the result object with Bun's fields in Bun's order
// (signalCode only when a signal ended the child; exitedDueToTimeout only with a timeout,
// exitedDueToMaxBuffer only with a maxBuffer, both after resourceUsage).
import { launchSync, type SyncOutcome } from "./native.ts";
import type { SpawnPlan, SpawnRequest } from "./plan.ts";
import { syncTimeoutMs, type Limits } from "./limits.ts";
import { launchFailure, type Defaulted, type Handed, type OutputOption } from "./subprocess.ts";
import { signalName } from "./signals.ts";
import { resourceUsageOf, type ResourceUsage } from "./resource.ts";
import { givenFd } from "./stdio.ts";
import { withSources } from "./stdio-sources.ts";

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
  pid: number;
}

/** How a plan is run to its end: directly (the default), from a template, or in a container. */
export type SyncLauncher = (plan: SpawnPlan, limits: Limits | undefined) => SyncOutcome;

const direct: SyncLauncher = (plan, limits) => launchSync(plan, 0, limits);

export function runSync(request: SpawnRequest, launchPlan: SyncLauncher = direct): SyncSubprocess {
  const limits = request.limits;
  // Files and memfds for Bun.file / buffer stdin are open only around the call (stdio-sources.ts).
  const engineLimits = limits && { ...limits, timeoutMs: syncTimeoutMs(limits) };
  const outcome = withSources(request.plan, request.command, (plan) => launchPlan(plan, engineLimits));
  if (outcome.stage !== 0) throw launchFailure(request, outcome);
  const result: Partial<SyncSubprocess> = { exitCode: outcome.exitCode };
  if (outcome.signal) result.signalCode = signalName(outcome.signal);
  // Bun hands back the user's own fd number where one was given.
  result.stdout = outcome.stdout ?? givenFd(request.plan.slots, 1);
  result.stderr = outcome.stderr ?? givenFd(request.plan.slots, 2);
  result.success = outcome.exitCode === 0;
  result.resourceUsage = resourceUsageOf(outcome.rusage);
  // With a `timeout`, Bun sets the field for a kill by an AbortSignal.timeout too (probed).
  if (limits?.timeoutMs) result.exitedDueToTimeout = outcome.timedOut === true;
  if (limits?.maxBuffer) result.exitedDueToMaxBuffer = outcome.maxBufferExceeded === true;
  result.pid = outcome.pid;
  return result as SyncSubprocess;
}
