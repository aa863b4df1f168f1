// Spawn templates: a command prepared once — options validated, path resolved, argv and envp
// encoded into engine memory — then launched many times with only stdio, extra args and a few
// env entries given per launch. The user-space form of the kernel "spawn templates" proposal.
import { Type } from "typebox";
import { Compile } from "typebox/compile";
import { closeTemplate, createTemplate, launch, launchSync, type TemplateHandle } from "./native.ts";
import { engine } from "./engine.ts";
import { fallbackTemplateLaunch } from "./fallback.ts";
import { normalizeSpawn, type SpawnOptions, type StdioOptions } from "./options.ts";
import type { SpawnPlan, SpawnRequest } from "./plan.ts";
import { argError, launchError } from "./errors.ts";
import { startSubprocess, type OutputOption, type StdinOption, type Subprocess } from "./subprocess.ts";
import { runSync, type SyncSubprocess } from "./sync.ts";

const Overrides = Type.Object({
  args: Type.Optional(Type.Array(Type.String())),
  env: Type.Optional(Type.Record(Type.String(), Type.String())),
});
// Compiled at first use: a program pays for the validators it needs (see global.ts).
const compileCheckOverrides = () => Compile(Overrides);
let compiledCheckOverrides: ReturnType<typeof compileCheckOverrides> | undefined;
const checkOverrides = () => (compiledCheckOverrides ??= compileCheckOverrides());

/** What every launch may change besides stdio; everything else is fixed when the template is made. */
interface LaunchArgs {
  /** Appended to the template's argv. */
  args?: string[];
  /** Set (or replace) these variables; the template's other variables are kept. */
  env?: Record<string, string>;
}

/** With any of stdin, stdout, stderr and stdio, a launch's stdio is these alone, by spawn's
 * rules (an unnamed one takes spawn's default, not the template's); without, the template's. */
export interface TemplateOverrides<
  In extends StdinOption = StdinOption,
  Out extends OutputOption = OutputOption,
  Err extends OutputOption = OutputOption,
> extends LaunchArgs, StdioOptions<In, Out, Err> {}

/** Overrides that name no stdio option, so the launch keeps the template's stdio. */
type KeepStdio = LaunchArgs & { [K in keyof StdioOptions<StdinOption, OutputOption, OutputOption>]?: never };

const no_env = Object.freeze({});

/** `In`, `Out` and `Err` are the stdio options the template was made with (undefined: not given). */
export class Template<In extends StdinOption = StdinOption, Out extends OutputOption = OutputOption, Err extends OutputOption = OutputOption> {
  #handle: TemplateHandle;
  #cmd: unknown;
  #options: unknown;
  #async: SpawnRequest;
  /** Made on the first spawnSync: some options (a terminal) are valid for spawn only. */
  #sync: SpawnRequest | undefined;

  /** @internal use template() */
  constructor(cmd: unknown, options?: unknown) {
    this.#cmd = cmd;
    this.#options = options;
    if (engine.kind === "bun") {
      // No engine memory to prepare: each launch is a Bun spawn of the same command (fallback.ts).
      this.#handle = -1;
      this.#async = undefined as unknown as SpawnRequest;
      return;
    }
    this.#async = normalizeSpawn(cmd, options, false);
    const made = createTemplate(this.#async.plan);
    if (typeof made !== "number") throw launchError(made.stage, made.errno, this.#async.command, this.#async.plan.file);
    this.#handle = made;
  }

  spawn(overrides?: KeepStdio): Subprocess<In, Out, Err>;
  spawn<const I extends StdinOption = undefined, const O extends OutputOption = undefined, const E extends OutputOption = undefined>(
    overrides: TemplateOverrides<I, O, E>,
  ): Subprocess<I, O, E>;
  spawn(overrides?: TemplateOverrides): Subprocess {
    const handle = this.#live();
    if (handle === -1) return fallbackTemplateLaunch(this.#cmd, this.#options, this.#checked(overrides) as Record<string, unknown> | undefined, false) as Subprocess;
    // A template's cgroup is fixed at its creation: maxMemory is sampled (memory.ts).
    return startSubprocess(this.#overlay(this.#async, overrides, false), (plan) => launch(plan, handle), false);
  }

  spawnSync(overrides?: KeepStdio): SyncSubprocess<Out, Err>;
  spawnSync<const I extends StdinOption = undefined, const O extends OutputOption = undefined, const E extends OutputOption = undefined>(
    overrides: TemplateOverrides<I, O, E>,
  ): SyncSubprocess<O, E>;
  spawnSync(overrides?: TemplateOverrides): SyncSubprocess {
    const handle = this.#live();
    if (handle === -1) return fallbackTemplateLaunch(this.#cmd, this.#options, this.#checked(overrides) as Record<string, unknown> | undefined, true) as SyncSubprocess;
    this.#sync ??= normalizeSpawn(this.#cmd, this.#options, true);
    return runSync(this.#overlay(this.#sync, overrides, true), (plan, limits) => launchSync(plan, handle, limits), false);
  }

  /** Frees the engine memory. Children already starting are not affected. */
  close(): void {
    if (this.#handle === 0) return;
    if (this.#handle !== -1) closeTemplate(this.#handle);
    this.#handle = 0;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #live(): TemplateHandle {
    if (this.#handle === 0) throw argError("ERR_INVALID_STATE", "template is closed", TypeError);
    return this.#handle;
  }

  /** The per-launch request: an overlay plan the engine lays over the template. */
  #checked(overrides: TemplateOverrides | undefined): TemplateOverrides | undefined {
    if (overrides !== undefined && !checkOverrides().Check(overrides)) {
      const first = checkOverrides().Errors(overrides)[0];
      const where = first?.instancePath ? `overrides${first.instancePath.replaceAll("/", ".")}` : "overrides";
      throw argError("ERR_INVALID_ARG_TYPE", `The "${where}" argument ${first?.message ?? "is invalid"}; expected { args?: string[], env?: Record<string, string>, stdin?, stdout?, stderr?, stdio? }`);
    }
    return overrides;
  }

  #overlay(base: SpawnRequest, overrides: TemplateOverrides | undefined, sync: boolean): SpawnRequest {
    this.#checked(overrides);
    let slots = base.plan.slots;
    if (overrides && ("stdio" in overrides || "stdin" in overrides || "stdout" in overrides || "stderr" in overrides)) {
      // Bun's own stdio rules and messages, on an absolute path (no PATH search) and no env.
      const { stdin, stdout, stderr, stdio } = overrides;
      slots = normalizeSpawn([base.plan.file], { stdin, stdout, stderr, stdio, env: no_env }, sync).plan.slots;
    }
    const env = overrides?.env;
    const envp = env ? Object.keys(env).map((key) => `${key}=${env[key]}`) : [];
    for (const entry of envp) if (entry.includes("\0")) throw argError("ERR_INVALID_ARG_VALUE", `template overrides.env must be strings without null bytes`);
    const args = overrides?.args ?? [];
    for (const arg of args) if (arg.includes("\0")) throw argError("ERR_INVALID_ARG_VALUE", `template overrides.args must be strings without null bytes`);
    // The overlay carries the template's child setup (detached, uid, rlimits, …); file, cwd,
    // argv and envp come from the template's engine memory, plus these extras.
    const plan: SpawnPlan = { ...base.plan, file: "", argv: args, envp, cwd: "", slots };
    // Everything else the template was made with (limits, terminal, ipc, …) applies to each launch.
    return { ...base, plan };
  }
}

/** Prepares `cmd` with `options` (the same as spawn's, and its two forms) for many launches. */
export function template<
  const In extends StdinOption = undefined,
  const Out extends OutputOption = undefined,
  const Err extends OutputOption = undefined,
>(options: SpawnOptions<In, Out, Err> & { cmd: string[] }): Template<In, Out, Err>;
export function template<
  const In extends StdinOption = undefined,
  const Out extends OutputOption = undefined,
  const Err extends OutputOption = undefined,
>(cmd: string[], options?: SpawnOptions<In, Out, Err>): Template<In, Out, Err>;
export function template(cmd: unknown, options?: unknown): Template {
  return new Template(cmd, options);
}
