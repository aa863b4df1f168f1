// Subprocess: what spawn() returns, field for field what Bun.spawn returns. It learns of the
// child's end from the reaper (through native.ts), and holds the event loop open while a ref'd
// child runs: a threadsafe JSCallback alone does not keep Bun alive.
import type { BunFile, FileSink, Spawn } from "bun";
import {
  closeFd,
  launch,
  readAvailable,
  setCompletionHandler,
  awaitCompletions,
  signalChild,
  type Completion,
  type Launched,
  type LaunchFailure,
} from "./native.ts";
import type { SpawnPlan, SpawnRequest } from "./plan.ts";
import { launchError } from "./errors.ts";
import { cgroupError, stage_cgroup } from "./child-setup.ts";
import { killTree } from "./kill-tree.ts";
import { endIfUnread, nativeReadableFromFd, readableFromFd, sinkFromFd, closeWhenCollected, forget, retireSink, givenFd } from "./stdio.ts";
import { feedStream, withSources } from "./stdio-sources.ts";
import { signalName, signalNumber } from "./signals.ts";
import { resourceUsageOf, type ResourceUsage } from "./resource.ts";
import { countedStream, watchLimits, type LimitHit, type LimitWatch } from "./limits.ts";
import { prepareMemory, usageWatch, type MemoryRoute, type MemoryUsage, type MemoryWatch } from "./memory.ts";
import { terminalForLaunch, type Terminal } from "./terminal.ts";
import { channelClosedError, checkMessage, IpcChannel } from "./ipc.ts";

const running = new Map<number, Subprocess>();
setCompletionHandler((done) => running.get(done.id)?._finish(done));

// One idle interval, ref'd exactly while some ref'd child runs.
let refCount = 0;
let keepAlive: ReturnType<typeof setInterval> | undefined;
function hold(): void {
  if (refCount++ === 0) (keepAlive ??= setInterval(() => {}, 2 ** 30)).ref();
}
function letGo(): void {
  if (--refCount === 0) keepAlive!.unref();
}

const ESRCH = 3;

/** A stdin value: bun-types' Spawn.Writable, and the ArrayBuffer and SharedArrayBuffer Bun takes too. */
export type StdinOption = Spawn.Writable | ArrayBuffer | SharedArrayBuffer;
/** A stdout or stderr value: bun-types' Spawn.Readable. */
export type OutputOption = Spawn.Readable;

// What `stdin`, `stdout` and `stderr` are for the options given, as bun-types' Spawn.WritableToIO
// and Spawn.ReadableToIO type them for Bun.spawn, but as Bun and forkless hand them out: a
// ReadableStream stdin is itself `stdin`; an fd number or a Bun.file is the user's own number, or
// undefined where it is the stream's own number or a file forkless opened; an unset stderr is
// inherited. With `terminal` all three are null, which the options' types do not tell (as in Bun's).

/** What a stream is for option X: `T` for a pipe, the user's number for an fd or a Bun.file. */
export type Handed<X, T> = X extends "pipe" ? T : X extends number | BunFile ? number | undefined : undefined;
/** An unset (undefined) option is the stream's default, `D`. */
export type Defaulted<X, D> = X extends undefined ? D : X;
export type StdinOf<X extends StdinOption> = X extends ReadableStream
  ? X
  : X extends Response | Request
    ? ReadableStream | number | undefined
    : Handed<X, FileSink>;
export type OutputOf<X extends OutputOption, D extends OutputOption> = Handed<Defaulted<X, D>, ReadableStream<Uint8Array<ArrayBuffer>>>;

export class Subprocess<
  In extends StdinOption = StdinOption,
  Out extends OutputOption = OutputOption,
  Err extends OutputOption = OutputOption,
> {
  // Bun's fields are prototype getters: a Subprocess has no own enumerable keys.
  #pid: number;
  #stdio: (number | null)[];
  #exited: Promise<number>;
  #id: number;
  #request: SpawnRequest;
  #resolveExited!: (code: number) => void;
  #exitCode: number | null = null;
  /** A name, or the number of a realtime signal (they have no name), as in Bun. */
  #signalCode: string | number | null = null;
  #usage: BigInt64Array | undefined;
  #done = false;
  #reffed = true;
  #stdin: FileSink | undefined;
  #stdout: ReadableStream<Uint8Array> | undefined;
  #stderr: ReadableStream<Uint8Array> | undefined;
  #lazyFds: (number | undefined)[] = [];
  #held: object[] = [];
  #lazyTokens: (object | undefined)[] = [];
  /** Bytes #settleUnread took from an output whose fd stays open: the stream starts with them. */
  #readEarly: (Uint8Array | undefined)[] = [];
  #killedForLimit = false;
  /** The limit whose kill came first (spawnAndWait's exitedDueTo… fields). */
  #limitHit: LimitHit | undefined;
  /** maxMemory's watch, or (without one) memoryUsage()'s tree walk from its first call. */
  #memory: MemoryWatch | undefined;
  /** A ReadableStream given as stdin: what `stdin` returns. */
  #feed: ReadableStream | undefined;
  /** Parent ends of outputs sent to a ReadableStream target (never read, closed at the exit). */
  #unreadFds: number[] = [];
  /** timeout and AbortSignal, armed until the exit (limits.ts). */
  #limits: LimitWatch | undefined;
  /** `terminal`: the PTY at fds 0–2. An inline one holds the event loop until its EOF even when
   * this subprocess is unref'd, as in Bun. */
  #terminal: Terminal | undefined;
  #ipc: IpcChannel | undefined;

  /** @internal use spawn() */
  constructor(request: SpawnRequest, id: number, pid: number, fds: Int32Array) {
    this.#id = id;
    this.#pid = pid;
    this.#request = request;
    this.#exited = new Promise((resolve) => (this.#resolveExited = resolve));
    const slots = request.plan.slots;
    // Extra slots: a pipe's parent end or the user's own fd number; inherit and ignore show null.
    this.#stdio = slots.map((slot, i) => (i < 3 || !slot ? null : slot.kind === "pipe" ? fds[i]! : slot.kind === "fd" && !slot.source ? slot.fd : null));
    // stdin's sink is made now (a writer holds no reading state); the streams only when asked,
    // so an unread stdout costs no reader. Until then the fd closes when this object goes.
    // A ReadableStream stdin is pumped into the pipe, and is itself subprocess.stdin (as in Bun).
    const feed = slots[0]?.feed;
    if (fds[0]! >= 0 && feed) feedStream((this.#feed = feed), sinkFromFd(fds[0]!));
    else if (fds[0]! >= 0) this.#stdin = sinkFromFd(fds[0]!);
    for (const i of [1, 2]) {
      if (fds[i]! < 0) continue;
      // A ReadableStream target: Bun makes the pipe and never reads it; it closes at the exit.
      if (slots[i]?.unread) {
        this.#unreadFds.push(fds[i]!);
        continue;
      }
      this.#lazyFds[i] = fds[i]!;
      this.#lazyTokens[i] = closeWhenCollected(this, fds[i]!);
    }
    running.set(id, this);
    awaitCompletions(1);
    hold();
    if (request.limits) this.#armLimits(request.limits);
    // Bun reads stdout and stderr from the spawn on, so a child never blocks on an output nobody
    // reads; with `lazy`, only from the first access. (A microtask: spawn() itself stays short.)
    if (!request.lazy && (this.#lazyFds[1] !== undefined || this.#lazyFds[2] !== undefined)) {
      queueMicrotask(() => this.#readAhead());
    }
  }

  /** Starts reading the outputs nobody asked for yet. A pending read holds the event loop, so an
   * unref()'d child's outputs wait for their first access (or for ref()): Bun's unref() lets the
   * program end without waiting for them either. */
  #readAhead(): void {
    if (!this.#reffed || this.#request.lazy) return;
    this.#stdout ??= this.#stream(1);
    this.#stderr ??= this.#stream(2);
  }

  /** Bun enforces maxBuffer on outputs nobody reads: with one, both are read from the start. */
  #armLimits(limits: NonNullable<SpawnRequest["limits"]>): void {
    this.#limits = watchLimits(this, limits);
    if (limits.maxBuffer === 0) return;
    const exceeded = () => {
      this.#limitHit ??= "maxBuffer";
      this.kill(limits.killSignal);
    };
    const counted = (stream: ReadableStream<Uint8Array> | undefined) => stream && countedStream(stream, limits.maxBuffer, exceeded);
    this.#stdout = counted(this.#stream(1));
    this.#stderr = counted(this.#stream(2));
  }

  #stream(i: 1 | 2): ReadableStream<Uint8Array> | undefined {
    const fd = this.#lazyFds[i];
    if (fd === undefined) return undefined;
    this.#lazyFds[i] = undefined;
    forget(this.#lazyTokens[i]!);
    // `lazy` is how node:child_process launches (Bun reads nothing ahead then): hand it Bun's own
    // stream, which it consumes natively. Bytes read early must come first: only a wrapper can.
    const early = this.#readEarly[i];
    if (this.#request.lazy && early === undefined) return nativeReadableFromFd(fd, this);
    return readableFromFd(fd, early);
  }

  /** At exit, an output nobody asked for yet is read into memory so its fd can close now (Bun
   * holds no fd for a finished child), unless something else still holds its write end; after a
   * timeout or abort kill, even then (Bun's rule: the grandchild's later output is not waited for). */
  #settleUnread(i: 1 | 2): void {
    const fd = this.#lazyFds[i];
    if (fd === undefined) {
      if (this.#killedForLimit) endIfUnread(i === 1 ? this.#stdout : this.#stderr);
      return;
    }
    const { bytes, eof } = readAvailable(fd);
    if (!eof && !this.#killedForLimit) {
      // A grandchild still writes: keep streaming from the fd when asked, after these bytes.
      if (bytes.length > 0) this.#readEarly[i] = bytes;
      return;
    }
    this.#lazyFds[i] = undefined;
    forget(this.#lazyTokens[i]!);
    closeFd(fd);
    const stream = new Blob([bytes]).stream();
    if (i === 1) this.#stdout = stream;
    else this.#stderr = stream;
  }

  get pid(): number {
    return this.#pid;
  }
  /** A fresh array at each access, as Bun's. */
  get stdio(): (number | null)[] {
    return [...this.#stdio];
  }
  get exited(): Promise<number> {
    return this.#exited;
  }
  get [Symbol.toStringTag](): string {
    return "Subprocess";
  }

  /** Bun hands back the user's own fd number where one was given for a standard stream. Each
   * cast states what the options' types promise (StdinOf, OutputOf): the slots were made from them. */
  get stdin(): StdinOf<In> {
    const stdin = this.#terminal ? null : (this.#stdin ?? this.#feed ?? givenFd(this.#request.plan.slots, 0));
    return stdin as StdinOf<In>;
  }
  get stdout(): OutputOf<Out, "pipe"> {
    const stdout = this.#terminal ? null : ((this.#stdout ??= this.#stream(1)) ?? givenFd(this.#request.plan.slots, 1));
    return stdout as OutputOf<Out, "pipe">;
  }
  get stderr(): OutputOf<Err, "inherit"> {
    const stderr = this.#terminal ? null : ((this.#stderr ??= this.#stream(2)) ?? givenFd(this.#request.plan.slots, 2));
    return stderr as OutputOf<Err, "inherit">;
  }
  /** The PTY of a `terminal` spawn; with one, stdin, stdout and stderr are null (as in Bun). */
  get terminal(): Terminal | undefined {
    return this.#terminal;
  }
  /** Whether the `ipc` channel is open; false without one. */
  get connected(): boolean {
    return this.#ipc?.connected ?? false;
  }

  /** Bun's checks, in Bun's order: exited, then channel open, then the message itself. A
   * function among the later arguments is called (with null) once the message is written. */
  send(message: unknown, ...rest: unknown[]): boolean {
    if (this.#done) throw channelClosedError("Subprocess.send() cannot be used after the process has exited.");
    const ipc = this.#ipc;
    if (!ipc?.connected) throw channelClosedError("Subprocess.send() can only be used if an IPC channel is open.");
    checkMessage(message);
    ipc.send(message, rest.find((arg) => typeof arg === "function") as ((error: null) => void) | undefined);
    return true;
  }

  disconnect(): void {
    this.#ipc?.disconnect();
  }

  /** @internal startSubprocess: the terminal and the IPC channel of this launch. */
  _attach(terminal: Terminal | undefined, ipcFd: number): void {
    this.#terminal = terminal;
    const ipc = this.#request.ipc;
    if (!ipc || ipcFd < 0) return;
    // The channel's slot shows null in `stdio`; onDisconnect gets this subprocess as `this` and
    // one argument, true, as in Bun.
    this.#stdio[ipc.fd] = null;
    const onDisconnect = this.#request.onDisconnect;
    this.#ipc = new IpcChannel(ipcFd, ipc.mode, (message) => ipc.onMessage.call(this, message, this, undefined), () => onDisconnect?.call(this, true));
  }
  get readable(): OutputOf<Out, "pipe"> {
    return this.stdout;
  }
  /** Bun's alias of stdin. */
  get writable(): FileSink | undefined {
    return this.#stdin;
  }
  get exitCode(): number | null {
    return this.#exitCode;
  }
  get signalCode(): string | number | null {
    return this.#signalCode;
  }
  /** As in Bun: true once the child has ended, however it ended. */
  get killed(): boolean {
    return this.#done;
  }

  /** @internal a timeout or an abort kills: unread outputs then end at the exit (#settleUnread). */
  _killForLimit(signal: number, hit: LimitHit): void {
    if (this.#done) return;
    this.#killedForLimit = true;
    this.#limitHit ??= hit;
    this.kill(signal);
  }

  kill(signal?: number | string): void {
    const n = signalNumber(signal);
    if (this.#done) return;
    const errno = signalChild(this.#id, n);
    // ESRCH: it ended and was reaped, and the completion is on its way to us.
    if (errno !== 0 && errno !== ESRCH) throw launchError(3, errno, this.#request.command, "kill");
  }

  /** Signals the child and every descendant still in its tree (see kill-tree.ts): the tree is
   * frozen first, so none forks or escapes between the walk and the signal. */
  killTree(signal?: number | string): void {
    const n = signalNumber(signal);
    if (this.#done) return;
    killTree(this.pid, n, (sig) => {
      const errno = signalChild(this.#id, sig);
      if (errno !== 0 && errno !== ESRCH) throw launchError(3, errno, this.#request.command, "kill");
    });
  }

  ref(): void {
    if (this.#reffed || this.#done) return;
    this.#reffed = true;
    hold();
    this.#readAhead();
    this.#limits?.setRef(true);
    this.#ipc?.setRef(true);
  }

  unref(): void {
    if (!this.#reffed || this.#done) return;
    this.#reffed = false;
    letGo();
    this.#limits?.setRef(false);
    this.#ipc?.setRef(false);
  }

  resourceUsage(): ResourceUsage | undefined {
    return this.#usage && resourceUsageOf(this.#usage);
  }

  /** Bytes the child and its descendants hold now, and the most seen (Bun's main branch). After
   * the exit `current` is 0. With maxMemory, the cgroup's figures or the sampler's; without, a
   * walk of the tree at each call (so `peak` is the most any call saw). */
  memoryUsage(): MemoryUsage {
    if (!this.#memory) {
      if (this.#done) return { current: 0, peak: 0 };
      this.#memory = usageWatch(this.#pid);
    }
    return this.#memory.usage();
  }

  /** Whether maxMemory's limit ended the tree (the kernel's OOM kill in its cgroup, or the sampler's). */
  get exitedDueToMaxMemory(): boolean {
    return this.#memory?.exceeded ?? false;
  }

  /** @internal how maxMemory is enforced for this child; undefined without it. */
  get _memoryRoute(): MemoryRoute | undefined {
    return this.#memory?.route;
  }

  /** @internal which limit killed the child first, if one did. */
  get _limitHit(): LimitHit | undefined {
    return this.#limitHit;
  }

  /** @internal startSubprocess: maxMemory's watch of this child. */
  _watchMemory(watch: MemoryWatch): void {
    this.#memory = watch;
  }

  /** As Bun's: kills a running child and resolves with its exit status; nothing once it ended. */
  [Symbol.asyncDispose](): Promise<number> | undefined {
    if (this.#done) return undefined;
    this.kill();
    return this.exited;
  }

  /** @internal what must live as long as this Subprocess (stdio.ts, nativeReadableFromFd). */
  _hold(holder: object): void {
    this.#held.push(holder);
  }

  /** @internal called with the reaper's completion on the JS thread. */
  _finish(done: Completion): void {
    running.delete(this.#id);
    awaitCompletions(-1);
    this.#done = true;
    this.#usage = done.rusage;
    this.#exitCode = done.exitCode;
    this.#signalCode = done.signal ? signalName(done.signal) : null;
    // Before `exited` resolves, so exitedDueToMaxMemory is final when it does.
    this.#memory?.finish();
    if (this.#reffed) letGo();
    this.#limits?.disarm();
    this.#ipc?.settleClose();
    // Nothing of a finished child keeps an fd: its stdin takes no more writes (as in Bun), its
    // unread outputs move into memory.
    if (this.#stdin) retireSink(this.#stdin);
    this.#settleUnread(1);
    this.#settleUnread(2);
    for (const fd of this.#unreadFds.splice(0)) closeFd(fd);
    this.#resolveExited(done.exitCode ?? 128 + done.signal);
    const onExit = this.#request.onExit;
    if (!onExit) return;
    const error = done.stage ? launchError(done.stage, done.errno, this.#request.command, this.#request.plan.file) : undefined;
    // As in Bun, after `exited` has settled and every reaction to it has run, the microtasks
    // those queue included (Bun drains the microtask queue in between); `this` is the subprocess.
    setImmediate(() => onExit.call(this, this, this.#exitCode, this.#signalCode, error));
  }
}

/** Launches the request's plan (an overlay when `template` is given) as a Subprocess. */
/** How a plan is launched: directly (the default), from a template, or through a container. */
export type Launcher = (plan: SpawnPlan) => Launched | LaunchFailure;

/** The error Bun throws for a launch the engine (or a container's helper) refused. */
export function launchFailure(request: SpawnRequest, failed: LaunchFailure): Error {
  if (failed.stage === stage_cgroup) return cgroupError(failed.errno, request.plan.setup);
  return launchError(failed.stage, failed.errno, request.command, request.plan.file);
}

/** Launches the request's plan as a Subprocess: sources opened around the launch, a terminal
 * made for it, its ipc channel attached, its maxMemory watched. `perLaunchCgroup`: the launcher
 * honours a cgroup given per launch (a template's cannot: its cgroup is fixed). */
export function startSubprocess(request: SpawnRequest, launchPlan: Launcher = launch, perLaunchCgroup = true): Subprocess {
  const memory = prepareMemory(request, perLaunchCgroup);
  const plan = memory?.plan ?? request.plan;
  let tty: ReturnType<typeof terminalForLaunch> | undefined;
  let launched: Launched | LaunchFailure;
  try {
    tty = request.terminal && terminalForLaunch(request.terminal, plan);
    launched = withSources(tty ? tty.plan : plan, request.command, launchPlan);
  } catch (error) {
    // A source that could not be opened, a PTY that could not be made: no cgroup stays behind.
    memory?.abandon();
    throw error;
  }
  if ("stage" in launched) {
    if (tty?.inline) tty.terminal.close();
    memory?.abandon();
    throw launchFailure(request, launched);
  }
  // An inline terminal's slave now lives in the child only, so the child's end reaches us as EOF.
  if (tty?.inline) tty.terminal._spawnedInline();
  const subprocess = new Subprocess(request, launched.id, launched.pid, launched.fds);
  // The root is signalled through its pidfd; ESRCH once reaped is nothing to report.
  if (memory) subprocess._watchMemory(memory.start(launched.pid, (signal) => void signalChild(launched.id, signal), true));
  if (tty || request.ipc) subprocess._attach(tty?.terminal, request.ipc ? launched.fds[request.ipc.fd]! : -1);
  return subprocess;
}
