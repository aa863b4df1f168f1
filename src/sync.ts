// spawnSync: one blocking engine call, then the result object with Bun's fields in Bun's order
// (signalCode only when a signal ended the child).
import { launchSync, type TemplateHandle } from "./native.ts";
import type { SpawnRequest } from "./plan.ts";
import { launchError } from "./errors.ts";
import { signalName } from "./signals.ts";
import { resourceUsageOf, type ResourceUsage } from "./resource.ts";

export interface SyncSubprocess {
  exitCode: number | null;
  signalCode?: string | null;
  stdout: Buffer | undefined;
  stderr: Buffer | undefined;
  success: boolean;
  resourceUsage: ResourceUsage;
  pid: number;
}

export function runSync(request: SpawnRequest, template: TemplateHandle = 0): SyncSubprocess {
  const outcome = launchSync(request.plan, template);
  if (outcome.stage !== 0) throw launchError(outcome.stage, outcome.errno, request.command, request.plan.file);
  const result: Partial<SyncSubprocess> = { exitCode: outcome.exitCode };
  if (outcome.signal) result.signalCode = signalName(outcome.signal);
  result.stdout = outcome.stdout;
  result.stderr = outcome.stderr;
  result.success = outcome.exitCode === 0;
  result.resourceUsage = resourceUsageOf(outcome.rusage);
  result.pid = outcome.pid;
  return result as SyncSubprocess;
}
