// spawn, spawnSync, spawnAndWait and templates where forkless has no native engine (macOS,
// Windows, other architectures; or FORKLESS_ENGINE=bun): Bun's own spawn, so that a program
// depending on forkless still runs there. What only the native engine guarantees is refused,
// never dropped: a Container (no orphans), rlimits, maxMemory and deathSignal throw.
import { engine } from "./engine.ts";
import { argError } from "./errors.ts";

type BunSpawn = (...args: unknown[]) => unknown;

/** The options that carry a guarantee Bun's spawn does not give, with what it is. */
const NATIVE_ONLY: Record<string, string> = {
  container: "a Container (no child outlives the program)",
  rlimits: "rlimits",
  maxMemory: "maxMemory",
  deathSignal: "deathSignal",
};

let warned = false;

/** Bun's own functions, even under the preload (whose forwarders keep them as `.original`). */
function bun(name: "spawn" | "spawnSync"): BunSpawn {
  if (!warned && engine.kind === "bun" && process.env.FORKLESS_ENGINE !== "bun") {
    warned = true;
    process.emitWarning(`forkless: the native engine ${engine.reason}; spawn and spawnSync run on Bun's own (engine === "bun")`, { code: "FORKLESS_BUN_ENGINE" });
  }
  const own = Bun[name] as BunSpawn & { original?: BunSpawn };
  return own.original ?? own;
}

/** The ERR_FORKLESS_UNSUPPORTED error for a guarantee this platform cannot give. */
export function nativeOnly(what: string): Error {
  return argError("ERR_FORKLESS_UNSUPPORTED", `${what} needs forkless's native engine, which ${engine.kind === "bun" ? engine.reason : "is loaded"}; forkless does not pretend to give it with Bun's spawn`);
}

function refuseNativeOnly(options: unknown): void {
  if (typeof options !== "object" || options === null) return;
  for (const name of Object.keys(NATIVE_ONLY)) {
    const value = (options as Record<string, unknown>)[name];
    if (value !== undefined && value !== null && value !== false) throw nativeOnly(NATIVE_ONLY[name]!);
  }
}

/** spawn(cmd, options?) or spawn({ cmd, ...options }) on Bun's spawn. */
export function fallbackSpawn(cmd: unknown, options: unknown, sync: boolean): unknown {
  refuseNativeOnly(Array.isArray(cmd) ? options : cmd);
  return bun(sync ? "spawnSync" : "spawn")(cmd, options);
}

/** spawnAndWait: spawnSync's result, from a spawn() child, without blocking the loop. */
export async function fallbackSpawnAndWait(cmd: unknown, options: unknown): Promise<unknown> {
  const all = (Array.isArray(cmd) ? { ...(options as object), cmd } : { ...(cmd as object) }) as Record<string, unknown>;
  refuseNativeOnly(all);
  const stdout = all.stdout ?? "pipe";
  const stderr = all.stderr ?? "pipe";
  const child = bun("spawn")({ ...all, stdout, stderr }) as Bun.Subprocess;
  const read = (stream: unknown) => (stream instanceof ReadableStream ? new Response(stream).arrayBuffer().then((b) => Buffer.from(b)) : undefined);
  const [out, err] = await Promise.all([read(child.stdout), read(child.stderr)]);
  await child.exited;
  return {
    pid: child.pid,
    stdout: out,
    stderr: err,
    exitCode: child.exitCode,
    signalCode: child.signalCode,
    success: child.exitCode === 0,
    resourceUsage: child.resourceUsage(),
  };
}

/** One launch of a template made on a platform without the native engine: the template's
 * command and options, its args appended, its env laid over, its stdio replaced when given. */
export function fallbackTemplateLaunch(cmd: unknown, options: unknown, overrides: Record<string, unknown> | undefined, sync: boolean): unknown {
  const base = (Array.isArray(cmd) ? { ...(options as object), cmd } : { ...(cmd as object) }) as Record<string, unknown>;
  const launch: Record<string, unknown> = { ...base, cmd: [...(base.cmd as string[]), ...((overrides?.args as string[]) ?? [])] };
  if (overrides?.env) launch.env = { ...((base.env as object) ?? process.env), ...(overrides.env as object) };
  if (overrides && ("stdio" in overrides || "stdin" in overrides || "stdout" in overrides || "stderr" in overrides)) {
    for (const name of ["stdio", "stdin", "stdout", "stderr"]) launch[name] = overrides[name];
  }
  return fallbackSpawn(launch, undefined, sync);
}
