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
  type SyncOutcome,
} from "./native.ts";
import { normalizeSpawn } from "./options.ts";
import type { SpawnPlan, SpawnRequest } from "./plan.ts";
import { argError, launchError, unsupportedOption } from "./errors.ts";
import { Subprocess } from "./subprocess.ts";
import type { SyncSubprocess } from "./sync.ts";
import { signalName, signalNumber } from "./signals.ts";
import { resourceUsageOf } from "./resource.ts";
import { givenFd } from "./stdio.ts";
import { withSources } from "./stdio-sources.ts";
import { cgroupError, stage_cgroup } from "./child-setup.ts";
import { terminalForLaunch } from "./terminal.ts";

const GraceMs = Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 });
const ContainerOptions = Type.Object({ graceMs: Type.Optional(GraceMs) }, { additionalProperties: false });
const checkOptions = Compile(ContainerOptions);

export interface ContainerOptions {
  /** How long the helper waits after SIGTERM before it SIGKILLs what is left (default 2000). */
  graceMs?: number;
}

const default_grace_ms = 2000;

function readOptions(options: unknown, what: string): ContainerOptions {
  if (options === undefined) return {};
  if (checkOptions.Check(options)) return options as ContainerOptions;
  const first = checkOptions.Errors(options)[0];
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
    this.#graceMs = readOptions(options, "options").graceMs ?? default_grace_ms;
  }

  /** Same calls and Subprocess as Bun.spawn, launched by this container's helper. */
  spawn(cmd: unknown, options?: unknown): Subprocess {
    return this._spawn(normalizeSpawn(cmd, options, false));
  }

  /** Same calls and result as Bun.spawnSync, launched by this container's helper. */
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
   * @internal spawnIn() and the top-level spawn's `container` option end here. The same steps as
   * startSubprocess (subprocess.ts), with the helper launching instead of the engine.
   */
  _spawn(request: SpawnRequest): Subprocess {
    const tty = request.terminal && terminalForLaunch(request.terminal, request.plan);
    let session = this.#live();
    const launched = withSources(tty ? tty.plan : request.plan, request.command, (plan) => {
      const first = containerLaunch(session.handle, plan);
      if (!("stage" in first && isLost(first))) return first;
      // The helper died since we last heard from it: a fresh one takes this spawn.
      this.#discard(session);
      session = this.#live();
      return containerLaunch(session.handle, plan);
    });
    if ("stage" in launched) {
      if (tty?.inline) tty.terminal.close();
      if (launched.stage === stage_cgroup) throw cgroupError(launched.errno, request.plan.setup);
      throw launchError(launched.stage, launched.errno, request.command, request.plan.file);
    }
    if (tty?.inline) tty.terminal._spawnedInline();
    const child = new Subprocess(this.#reportLoss(request, session), launched.id, launched.pid, launched.fds);
    if (tty || request.ipc) child._attach(tty?.terminal, tty?.inline ?? false, request.ipc ? launched.fds[request.ipc.fd]! : -1);
    this.#children.add(child);
    void child.exited.then(() => this.#children.delete(child));
    return child;
  }

  /** @internal The same steps as runSync (sync.ts), with the helper launching. */
  _spawnSync(request: SpawnRequest): SyncSubprocess {
    const limits = request.limits;
    if (limits && (limits.timeoutMs || limits.maxBuffer)) {
      throw unsupportedOption("timeout and maxBuffer in a Container's spawnSync");
    }
    let session = this.#live();
    const outcome = withSources(request.plan, request.command, (plan) => {
      const first = containerLaunchSync(session.handle, plan);
      if (!(first.pid < 0 && isLost(first))) return first;
      this.#discard(session);
      session = this.#live();
      return containerLaunchSync(session.handle, plan);
    });
    if (outcome.stage !== 0) {
      if (outcome.stage === stage_cgroup) throw cgroupError(outcome.errno, request.plan.setup);
      throw launchError(outcome.stage, outcome.errno, request.command, request.plan.file);
    }
    return syncSubprocessOf(request, outcome);
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
  #reportLoss(request: SpawnRequest, session: Session): SpawnRequest {
    const onExit = request.onExit;
    if (!onExit) return request;
    const helperPid = session.helper.pid;
    return {
      ...request,
      onExit: (child, exitCode, signalCode, error) => {
        const lost = error !== undefined && (error as { errno?: number }).errno === -CONTAINER_LOST.errno;
        onExit(child, exitCode, signalCode, lost ? lostError(request.command, helperPid) : error);
      },
    };
  }
}

/** Bun's spawnSync result, field for field (as sync.ts builds it for direct launches). */
function syncSubprocessOf(request: SpawnRequest, outcome: SyncOutcome): SyncSubprocess {
  const result: Partial<SyncSubprocess> = { exitCode: outcome.exitCode };
  if (outcome.signal) result.signalCode = signalName(outcome.signal);
  result.stdout = outcome.stdout ?? givenFd(request.plan.slots, 1);
  result.stderr = outcome.stderr ?? givenFd(request.plan.slots, 2);
  result.success = outcome.exitCode === 0;
  result.resourceUsage = resourceUsageOf(outcome.rusage);
  result.pid = outcome.pid;
  return result as SyncSubprocess;
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
