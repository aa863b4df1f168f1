// One object per implementation with the handful of operations the rows time, so that every row
// runs the very same scenario through forkless, Bun.spawn and node:child_process (Bun's own).
// Each operation checks what it got (exit code 0, the bytes expected): a fast wrong answer is a failure.
import * as childProcess from "node:child_process";
import { threadCpuMs } from "./libc.ts";

export type Impl = "forkless" | "bun" | "node" | "c";
export const JS_IMPLS = ["forkless", "bun", "node"] as const;
export type JsImpl = (typeof JS_IMPLS)[number];

/** What every implementation offers the rows. `argv[0]` is always an absolute path. */
export interface Launcher {
  /** stdio ignored; resolves at exit. */
  waitIgnore(argv: string[], env?: Record<string, string>): Promise<void>;
  /** stdout piped and read to the end (stderr ignored); resolves with the byte count at exit. */
  waitPipe(argv: string[]): Promise<number>;
  /** spawnSync capturing stdout and stderr; returns the total byte count. */
  sync(argv: string[]): number;
  /** Only the spawn call is timed: `[wall ms in spawn(), JS-thread CPU ms in spawn(), exit]`. */
  launch(argv: string[]): [number, number, Promise<void>];
}

interface SpawnApi {
  spawn: typeof Bun.spawn;
  spawnSync: typeof Bun.spawnSync;
}

function checkExit(code: number | null, what: string): void {
  if (code !== 0) throw new Error(`${what}: exit code ${code}, expected 0`);
}

/** Bun's pid is always a real one; anything else is a failure to report, not a child to wait for. */
function checkPid<T extends { pid: number }>(proc: T, what: string): T {
  if (!(proc.pid > 0)) throw new Error(`${what}: spawn() returned pid ${proc.pid}`);
  return proc;
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.byteLength;
  return bytes;
}

/** forkless and Bun.spawn share one API (that is forkless's point), so they share one launcher. */
export function bunLikeLauncher(api: SpawnApi, name: string): Launcher {
  const ignore = { stdin: "ignore", stdout: "ignore", stderr: "ignore" } as const;
  return {
    async waitIgnore(argv, env) {
      const proc = checkPid(api.spawn(argv, env ? { ...ignore, env } : ignore), name);
      checkExit(await proc.exited, `${name} spawn`);
    },
    async waitPipe(argv) {
      const proc = checkPid(api.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "ignore" }), name);
      const bytes = await drain(proc.stdout);
      checkExit(await proc.exited, `${name} spawn (stdout pipe)`);
      return bytes;
    },
    sync(argv) {
      const result = api.spawnSync(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      checkExit(result.exitCode, `${name} spawnSync`);
      return (result.stdout?.byteLength ?? 0) + (result.stderr?.byteLength ?? 0);
    },
    launch(argv) {
      const cpu0 = threadCpuMs(); // outside the wall-clock window, which times spawn() alone
      const t0 = performance.now();
      const proc = api.spawn(argv, ignore);
      const ms = performance.now() - t0;
      const cpu_ms = threadCpuMs() - cpu0;
      checkPid(proc, name);
      return [ms, cpu_ms, proc.exited.then((code) => checkExit(code, `${name} spawn`))];
    },
  };
}

function nodeExit(child: childProcess.ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`node:child_process: exit ${code} signal ${signal}, expected 0`));
    });
  });
}

export function nodeLauncher(): Launcher {
  return {
    waitIgnore(argv, env) {
      return nodeExit(childProcess.spawn(argv[0]!, argv.slice(1), { stdio: "ignore", env }));
    },
    async waitPipe(argv) {
      const child = childProcess.spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "ignore"] });
      let bytes = 0;
      child.stdout!.on("data", (chunk: Buffer) => (bytes += chunk.byteLength));
      await nodeExit(child);
      return bytes;
    },
    sync(argv) {
      const result = childProcess.spawnSync(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
      if (result.error) throw result.error;
      checkExit(result.status, "node:child_process spawnSync");
      return result.stdout.byteLength + result.stderr.byteLength;
    },
    launch(argv) {
      const cpu0 = threadCpuMs();
      const t0 = performance.now();
      const child = childProcess.spawn(argv[0]!, argv.slice(1), { stdio: "ignore" });
      const ms = performance.now() - t0;
      const cpu_ms = threadCpuMs() - cpu0;
      return [ms, cpu_ms, nodeExit(child)];
    },
  };
}

/** The forkless module, or the reason it cannot be loaded. `--impl=bun` stands Bun.spawn in for it. */
export async function loadForkless(standIn: boolean): Promise<{ module: Record<string, unknown>; launcher: Launcher }> {
  if (standIn) return { module: {}, launcher: bunLikeLauncher(Bun, "Bun.spawn (standing in for forkless)") };
  // FORKLESS_BENCH_MODULE: another build of forkless (an absolute path), e.g. to compare two commits.
  const path = process.env.FORKLESS_BENCH_MODULE ?? "../src/index.ts";
  const module = (await import(path)) as Record<string, unknown>;
  if (typeof module.spawn !== "function" || typeof module.spawnSync !== "function") {
    throw new Error("src/index.ts does not export spawn and spawnSync");
  }
  return { module, launcher: bunLikeLauncher(module as unknown as SpawnApi, "forkless") };
}
