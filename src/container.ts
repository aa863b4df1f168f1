// Container: children launched through a helper process (zig/src/helper/) that is their nominal
// parent. The helper holds only the fds each request ships, adopts every orphan of the tree, and
// ends the whole tree when this process dies or closes the container, SIGKILL included.
// Left out on purpose: templates through a container, and more than one request in flight per helper.
import { Type } from "typebox";
import { Compile } from "typebox/compile";
import {
  CONTAINER_KILL_ALL,
  CONTAINER_LOST,
  CONTAINER_SHUTDOWN,
  containerControl,
  containerLaunch,
  containerLaunchSync,
  helperPath,
  openContainerSession,
  releaseContainerSession,
  type LaunchFailure,
} from "./native.ts";
import { engine } from "./engine.ts";
import { nativeOnly } from "./fallback.ts";
import { normalizeSpawn, type SpawnOptions, type SpawnSyncOptions } from "./options.ts";
import type { SpawnPlan, SpawnRequest } from "./plan.ts";
import { argError, launchError } from "./errors.ts";
import { startSubprocess, Subprocess, type OutputOption, type StdinOption } from "./subprocess.ts";
import { runSync, type SyncSubprocess } from "./sync.ts";
import { signalNumber } from "./signals.ts";

const GraceMs = Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 });
const ContainerOptions = Type.Object({ graceMs: Type.Optional(GraceMs) }, { additionalProperties: false });
// Compiled at first use: a program pays for the validators it needs (see global.ts).
const compileCheckOptions = () => Compile(ContainerOptions);
let compiledCheckOptions: ReturnType<typeof compileCheckOptions> | undefined;
const checkOptions = () => (compiledCheckOptions ??= compileCheckOptions());

export interface ContainerOptions {
  /** How long the helper waits after SIGTERM before it SIGKILLs what is left (default 2000). */
  graceMs?: number;
}

const default_grace_ms = 2000;

function readOptions(options: unknown, what: string): ContainerOptions {
  if (options === undefined) return {};
  if (checkOptions().Check(options)) return options as ContainerOptions;
  const first = checkOptions().Errors(options)[0];
  const path = first?.instancePath ? `${what}${first.instancePath.replaceAll("/", ".")}` : what;
  const expected = path.endsWith(".graceMs")
    ? "an integer number of milliseconds from 0 to 2147483647"
    : "an object { graceMs?: number } with no other properties";
  throw argError("ERR_INVALID_ARG_TYPE", `The "${path}" argument must be ${expected}`);
}

/** One helper process and the native session that talks to it. */
interface Session {
  handle: number;
  /** The helper as a Subprocess (unref'd): its `exited` says when the helper is gone. */
  helper: Subprocess;
  gone: boolean;
}

const helper_plan: SpawnPlan = { file: helperPath, argv: [helperPath], envp: [], cwd: "", slots: [null, null, null, null], detached: false };

function isLost(failure: LaunchFailure): boolean {
  return failure.stage === CONTAINER_LOST.stage && failure.errno === CONTAINER_LOST.errno;
}

/** The error a lost child's onExit receives in place of the engine's bare ECONNRESET. */
function lostError(command: string, helperPid: number): Error {
  const error = new Error(
    `forkless: the container's helper process (pid ${helperPid}) died; "${command}" was killed with it (SIGKILL)`,
  );
  Object.defineProperty(error, "code", { value: "ERR_FORKLESS_CONTAINER_LOST", enumerable: true, writable: true });
  return error;
}

/** Releases a session itself; the Container it belonged to may be gone already. */
function release(session: Session): void {
  if (session.gone) return;
  session.gone = true;
  abandoned.unregister(session);
  releaseContainerSession(session.handle);
}

// The backstop for a Container dropped without close(): once it is collected (each running
// child's exit callback holds it, so after its last child ended), its helper gets EOF and goes.
const abandoned = new FinalizationRegistry<number>((handle) => releaseContainerSession(handle));

export class Container {
  readonly #graceMs: number;
  #session: Session | undefined;
  #children = new Set<Subprocess>();
  #closing: Promise<void> | undefined;

  constructor(options?: ContainerOptions) {
    // Without the engine there is no helper: no promise that children die with the program.
    if (engine.kind === "bun") throw nativeOnly("a Container (no child outlives the program)");
    this.#graceMs = readOptions(options, "options").graceMs ?? default_grace_ms;
  }

  /** Same calls and Subprocess as Bun.spawn (and their types as forkless's spawn), launched by
   * this container's helper. */
  spawn<
    const In extends StdinOption = "ignore",
    const Out extends OutputOption = "pipe",
    const Err extends OutputOption = "inherit",
  >(options: SpawnOptions<In, Out, Err> & { cmd: string[] }): Subprocess<In, Out, Err>;
  spawn<
    const In extends StdinOption = "ignore",
    const Out extends OutputOption = "pipe",
    const Err extends OutputOption = "inherit",
  >(cmd: string[], options?: SpawnOptions<In, Out, Err>): Subprocess<In, Out, Err>;
  spawn(cmd: unknown, options?: unknown): Subprocess {
    return this._spawn(normalizeSpawn(cmd, options, false));
  }

  /** Same calls and result as Bun.spawnSync, launched by this container's helper. */
  spawnSync<
    const In extends StdinOption = "ignore",
    const Out extends OutputOption = "pipe",
    const Err extends OutputOption = "pipe",
  >(options: SpawnSyncOptions<In, Out, Err> & { cmd: string[] }): SyncSubprocess<Out, Err>;
  spawnSync<
    const In extends StdinOption = "ignore",
    const Out extends OutputOption = "pipe",
    const Err extends OutputOption = "pipe",
  >(cmd: string[], options?: SpawnSyncOptions<In, Out, Err>): SyncSubprocess<Out, Err>;
  spawnSync(cmd: unknown, options?: unknown): SyncSubprocess {
    return this._spawnSync(normalizeSpawn(cmd, options, true));
  }

  /** The pids of the children launched here that have not ended yet. */
  get pids(): number[] {
    return [...this.#children].map((child) => child.pid);
  }

  /** The helper's pid, or null before the first spawn and after it ended. */
  get helperPid(): number | null {
    return this.#session && !this.#session.gone ? this.#session.helper.pid : null;
  }

  /** Sends `signal` (default SIGTERM) to every process of the tree: children and their descendants. */
  killAll(signal?: number | string): void {
    const n = signalNumber(signal);
    const session = this.#session;
    if (session && !session.gone) containerControl(session.handle, CONTAINER_KILL_ALL, n);
  }

  /**
   * Ends the tree: SIGTERM to every descendant, SIGKILL after `graceMs` (default: the
   * container's), and resolves once the helper and every child launched here are gone.
   * Spawning afterwards throws.
   */
  close(options?: ContainerOptions): Promise<void> {
    const graceMs = readOptions(options, "options").graceMs ?? this.#graceMs;
    return (this.#closing ??= this.#close(graceMs));
  }

  async #close(graceMs: number): Promise<void> {
    const session = this.#session;
    if (session && !session.gone) {
      // Until the helper's end is seen, the event loop must not stop under us.
      session.helper.ref();
      if (containerControl(session.handle, CONTAINER_SHUTDOWN, graceMs) !== 0) this.#discard(session);
      await session.helper.exited;
    }
    await Promise.all([...this.#children].map((child) => child.exited));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Starts closing without waiting (see close()). */
  [Symbol.dispose](): void {
    void this.close();
  }

  /**
   * @internal spawnIn() and the top-level spawn's `container` option end here: the same steps
   * as a direct spawn, with the helper launching, and a fresh helper taking over a launch that
   * found the last one dead.
   */
  _spawn(request: SpawnRequest): Subprocess {
    let session!: Session;
    const child = startSubprocess(this.#reportLoss(request, () => session), (plan) => {
      session = this.#live();
      const first = containerLaunch(session.handle, plan);
      if (!("stage" in first && isLost(first))) return first;
      this.#discard(session);
      session = this.#live();
      return containerLaunch(session.handle, plan);
    });
    this.#children.add(child);
    void child.exited.then(() => this.#children.delete(child));
    return child;
  }

  /** @internal The same steps as a direct spawnSync, with the helper launching. */
  _spawnSync(request: SpawnRequest): SyncSubprocess {
    return runSync(request, (plan, limits) => {
      let session = this.#live();
      const first = containerLaunchSync(session.handle, plan, limits);
      if (!(first.pid < 0 && isLost(first))) return first;
      this.#discard(session);
      session = this.#live();
      return containerLaunchSync(session.handle, plan, limits);
    });
  }

  /** The current session, opening one (and its helper) when there is none. */
  #live(): Session {
    if (this.#closing) throw argError("ERR_INVALID_STATE", "container is closed", TypeError);
    if (this.#session && !this.#session.gone) return this.#session;
    const opened = openContainerSession(this.#graceMs);
    if ("stage" in opened) throw launchError(opened.stage, opened.errno, "forkless-helper", helperPath);
    const session: Session = { handle: opened.session, helper: undefined!, gone: false };
    // Holds the session, not the Container: a dropped Container must stay collectable.
    const onExit = () => release(session);
    session.helper = new Subprocess({ plan: helper_plan, command: "forkless-helper", onExit }, opened.helperId, opened.helperPid, new Int32Array(4).fill(-1));
    // The helper never keeps the program alive: its children do, while they run.
    session.helper.unref();
    abandoned.register(this, session.handle, session);
    this.#session = session;
    return session;
  }

  #discard(session: Session): void {
    release(session);
    if (this.#session === session) this.#session = undefined;
  }

  /** A request whose onExit turns "lost with the helper" into a clear error. */
  #reportLoss(request: SpawnRequest, session: () => Session): SpawnRequest {
    const onExit = request.onExit;
    if (!onExit) return request;
    return {
      ...request,
      onExit: (child, exitCode, signalCode, error) => {
        const lost = error !== undefined && (error as { errno?: number }).errno === -CONTAINER_LOST.errno;
        onExit(child, exitCode, signalCode, lost ? lostError(request.command, session().helper.pid) : error);
      },
    };
  }
}

let process_default: Container | undefined;

/** The process-wide container behind `{ container: true }`, made on first use. */
export function defaultContainer(): Container {
  return (process_default ??= new Container());
}

/** What the top-level spawn calls for `{ container: true | someContainer }`. */
export function spawnIn(container: Container | true, request: SpawnRequest): Subprocess {
  return (container === true ? defaultContainer() : container)._spawn(request);
}

/** What the top-level spawnSync calls for `{ container: true | someContainer }`. */
export function spawnSyncIn(container: Container | true, request: SpawnRequest): SyncSubprocess {
  return (container === true ? defaultContainer() : container)._spawnSync(request);
}

/** For options.ts: is `value` a Container (the `container` option's non-boolean form)? */
export function isContainer(value: unknown): value is Container {
  return value instanceof Container;
}
