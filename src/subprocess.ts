// Subprocess: what spawn() returns, field for field what Bun.spawn returns. It learns of the
// child's end from the reaper (through native.ts), and holds the event loop open while a ref'd
// child runs: a threadsafe JSCallback alone does not keep Bun alive.
import type { FileSink } from "bun";
import { launch, setCompletionHandler, signalChild, type Completion, type TemplateHandle } from "./native.ts";
import type { SpawnRequest } from "./plan.ts";
import { launchError } from "./errors.ts";
import { readableFromFd, sinkFromFd, closeWhenCollected, forget } from "./stdio.ts";
import { signalName, signalNumber } from "./signals.ts";
import { resourceUsageOf, type ResourceUsage } from "./resource.ts";

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

export class Subprocess {
  readonly pid: number;
  readonly stdio: (number | null)[];
  readonly exited: Promise<number>;
  #id: number;
  #request: SpawnRequest;
  #resolveExited!: (code: number) => void;
  #exitCode: number | null = null;
  #signalCode: string | null = null;
  #usage: BigInt64Array | undefined;
  #done = false;
  #reffed = true;
  #stdin: FileSink | undefined;
  #stdout: ReadableStream<Uint8Array> | undefined;
  #stderr: ReadableStream<Uint8Array> | undefined;
  #lazyFds: (number | undefined)[] = [];
  #lazyTokens: (object | undefined)[] = [];

  /** @internal use spawn() */
  constructor(request: SpawnRequest, id: number, pid: number, fds: Int32Array) {
    this.#id = id;
    this.pid = pid;
    this.#request = request;
    this.exited = new Promise((resolve) => (this.#resolveExited = resolve));
    const slots = request.plan.slots;
    this.stdio = slots.map((slot, i) => (i < 3 || !slot || slot.kind === "ignore" ? null : slot.kind === "pipe" ? fds[i]! : slot.fd));
    // stdin's sink is made now (a writer holds no reading state); the streams only when asked,
    // so an unread stdout costs no reader. Until then the fd closes when this object goes.
    if (fds[0]! >= 0) this.#stdin = sinkFromFd(fds[0]!);
    for (const i of [1, 2]) {
      if (fds[i]! < 0) continue;
      this.#lazyFds[i] = fds[i]!;
      this.#lazyTokens[i] = closeWhenCollected(this, fds[i]!);
    }
    running.set(id, this);
    hold();
  }

  #stream(i: 1 | 2): ReadableStream<Uint8Array> | undefined {
    const fd = this.#lazyFds[i];
    if (fd === undefined) return undefined;
    this.#lazyFds[i] = undefined;
    forget(this.#lazyTokens[i]!);
    return readableFromFd(fd);
  }

  get stdin(): FileSink | undefined {
    return this.#stdin;
  }
  get stdout(): ReadableStream<Uint8Array> | undefined {
    return (this.#stdout ??= this.#stream(1));
  }
  get stderr(): ReadableStream<Uint8Array> | undefined {
    return (this.#stderr ??= this.#stream(2));
  }
  get readable(): ReadableStream<Uint8Array> | undefined {
    return this.stdout;
  }
  get exitCode(): number | null {
    return this.#exitCode;
  }
  get signalCode(): string | null {
    return this.#signalCode;
  }
  /** As in Bun: true once the child has ended, however it ended. */
  get killed(): boolean {
    return this.#done;
  }

  kill(signal?: number | string): void {
    const n = signalNumber(signal);
    if (this.#done) return;
    const errno = signalChild(this.#id, n);
    // ESRCH: it ended and was reaped, and the completion is on its way to us.
    if (errno !== 0 && errno !== ESRCH) throw launchError(3, errno, this.#request.command, "kill");
  }

  ref(): void {
    if (this.#reffed || this.#done) return;
    this.#reffed = true;
    hold();
  }

  unref(): void {
    if (!this.#reffed || this.#done) return;
    this.#reffed = false;
    letGo();
  }

  resourceUsage(): ResourceUsage | undefined {
    return this.#usage && resourceUsageOf(this.#usage);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#done) this.kill();
    await this.exited;
  }

  /** @internal called with the reaper's completion on the JS thread. */
  _finish(done: Completion): void {
    running.delete(this.#id);
    this.#done = true;
    this.#usage = done.rusage;
    this.#exitCode = done.exitCode;
    this.#signalCode = done.signal ? signalName(done.signal) : null;
    if (this.#reffed) letGo();
    this.#resolveExited(done.exitCode ?? 128 + done.signal);
    const onExit = this.#request.onExit;
    if (!onExit) return;
    const error = done.stage ? launchError(done.stage, done.errno, this.#request.command, this.#request.plan.file) : undefined;
    // After the callbacks of `exited`, as in Bun.
    queueMicrotask(() => onExit(this, this.#exitCode, this.#signalCode, error));
  }
}

/** Launches the request's plan (an overlay when `template` is given) as a Subprocess. */
export function startSubprocess(request: SpawnRequest, template: TemplateHandle = 0): Subprocess {
  const launched = launch(request.plan, template);
  if ("stage" in launched) throw launchError(launched.stage, launched.errno, request.command, request.plan.file);
  return new Subprocess(request, launched.id, launched.pid, launched.fds);
}
