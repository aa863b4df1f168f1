// The limits on one child's run — `timeout` + `killSignal`, an AbortSignal, and `maxBuffer` —
// read and validated as Bun 1.4.5 does, and enforced for spawn() here (a timer, an abort listener,
// streams that count). spawnSync's are enforced in the engine (zig/src/sync.zig), so its kill
// cannot be skipped. Left out on purpose: maxBuffer on extra "pipe" slots (Bun counts only 1 and 2).
import { argError } from "./errors.ts";
import { signalNumber } from "./signals.ts";

/** What options.ts hands on; every field 0 / undefined means "no such limit". */
export interface Limits {
  /** ms from the launch; 0 = none. */
  timeoutMs: number;
  /** The signal sent on timeout, abort and maxBuffer (Bun's default: SIGTERM). */
  killSignal: number;
  /** Bytes per stream (stdout and stderr apart, as Bun counts); 0 = none. */
  maxBuffer: number;
  /** spawn() only: aborting it later kills the child with killSignal. */
  signal: AbortSignal | undefined;
}

const SIGTERM = 15;
const max_timeout_ms = Number.MAX_SAFE_INTEGER;
/** Bun ignores a maxBuffer it cannot hold in an i64 (1e20, 2 ** 63), as it ignores < 1. */
const max_buffer_bound = 2 ** 63;

// Bun's AbortError: class Error, with name and code on a prototype of their own (not own keys),
// `cause` the signal's reason (own, not enumerable).
const abort_error_proto = Object.create(Error.prototype, {
  name: { value: "AbortError", writable: true, enumerable: true, configurable: true },
  code: { value: "ABORT_ERR", writable: true, enumerable: true, configurable: true },
  toString: {
    value: function (this: Error & { code: string }) {
      return `${this.name} [${this.code}]: ${this.message}`;
    },
    writable: true,
    enumerable: true,
    configurable: true,
  },
});

/** What Bun throws, synchronously, for a signal that was aborted before the spawn. */
export function abortError(reason: unknown): Error {
  const error = new Error("The operation was aborted", { cause: reason });
  Object.setPrototypeOf(error, abort_error_proto);
  return error;
}

/** timeout → ms (0 = none), or Bun's error: type, then NaN, then integer, then range. */
export function readTimeout(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== "number") {
    throw argError("ERR_INVALID_ARG_TYPE", `The "timeout" property must be of type number. Received ${typeof value}`);
  }
  if (Number.isNaN(value)) {
    throw argError("ERR_OUT_OF_RANGE", 'The value of "timeout" is out of range. It must be a non-negative integer. Received NaN', RangeError);
  }
  if (value === Infinity) return 0;
  if (Number.isFinite(value) && !Number.isInteger(value)) {
    throw argError("ERR_INVALID_ARG_TYPE", 'The "timeout" property must be of type integer. Received number');
  }
  if (value < 0 || value > max_timeout_ms) {
    throw argError("ERR_OUT_OF_RANGE", `The value of "timeout" is out of range. It must be >= 0 and <= ${max_timeout_ms}. Received ${value}`, RangeError);
  }
  return value;
}

/** killSignal → a signal number. Bun takes undefined, null, NaN and "" as the default. */
export function readKillSignal(value: unknown): number {
  if (value === undefined || value === null || value === "" || Number.isNaN(value)) return SIGTERM;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw argError("ERR_INVALID_ARG_TYPE", "Unknown signal");
    if (value === 0) throw argError("ERR_UNKNOWN_SIGNAL", "Unknown signal: 0");
  }
  // The rest (names, range, other types) exactly as Subprocess.kill validates.
  return signalNumber(value);
}

/** maxBuffer → bytes (0 = none). Bun never rejects it: what is not a number >= 1 is ignored. */
export function readMaxBuffer(value: unknown): number {
  if (typeof value !== "number" || !(value >= 1 && value < max_buffer_bound)) return 0;
  return Math.trunc(value);
}

// spawnSync blocks the JS thread, so no timer can fire while it runs and no AbortController can
// abort. Bun's spawnSync still kills for a signal from AbortSignal.timeout (probed; for a
// controller's abort, or AbortSignal.any, it does not). To do the same, forkless needs the
// signal's deadline, which the signal does not tell: AbortSignal.timeout is wrapped, once, to
// record it. A signal made before forkless loaded is not known (the preload loads it first).
const timeout_deadlines = new WeakMap<AbortSignal, number>();
const make_timeout_signal = AbortSignal.timeout;
Object.defineProperty(AbortSignal, "timeout", {
  value: {
    timeout(this: typeof AbortSignal, ms: number): AbortSignal {
      const signal = make_timeout_signal.call(this, ms);
      timeout_deadlines.set(signal, performance.now() + Number(ms));
      return signal;
    },
  }.timeout,
  writable: true,
  configurable: true,
});

/** The timeout the engine enforces for a spawnSync: the `timeout` option's, or sooner the
 * deadline of an AbortSignal.timeout signal; at least 1 ms once it is due (it kills then). */
export function syncTimeoutMs(limits: Limits): number {
  const deadline = limits.signal && timeout_deadlines.get(limits.signal);
  if (deadline === undefined) return limits.timeoutMs;
  const remaining = Math.max(1, Math.ceil(deadline - performance.now()));
  return limits.timeoutMs === 0 ? remaining : Math.min(limits.timeoutMs, remaining);
}

/** The limits of one spawn, in Bun's order (timeout, then killSignal); undefined when none. */
export function readLimits(
  options: { timeout?: unknown; killSignal?: unknown; maxBuffer?: unknown },
  signal: AbortSignal | undefined,
): Limits | undefined {
  const timeoutMs = readTimeout(options.timeout);
  const killSignal = readKillSignal(options.killSignal);
  const maxBuffer = readMaxBuffer(options.maxBuffer);
  if (timeoutMs === 0 && maxBuffer === 0 && signal === undefined) return undefined;
  return { timeoutMs, killSignal, maxBuffer, signal };
}

// ---------------------------------------------------------------------------------------------
// spawn(): enforcement in JS.

/** Which limit ended a child (spawnAndWait reports timeout and maxBuffer as spawnSync does). */
export type LimitHit = "timeout" | "abort" | "maxBuffer";

/** What the limits need from a running Subprocess. */
export interface LimitedChild {
  /** Sends the signal unless the child has ended: a timeout or an abort ends it. */
  _killForLimit(signal: number, hit: LimitHit): void;
}

/** The live limits of one async child: disarm() at its exit; setRef() follows ref()/unref(). */
export interface LimitWatch {
  setRef(reffed: boolean): void;
  disarm(): void;
}

/** setTimeout's own bound; longer timeouts re-arm until the deadline is reached. */
const max_timer_ms = 2 ** 31 - 1;

/**
 * Arms the timeout and the abort listener of a just-launched child. The timer is ref'd only while
 * the child is (an unref'd child with a timeout does not hold the program open), and both are
 * removed at the child's exit, so neither outlives it.
 */
export function watchLimits(child: LimitedChild, limits: Limits): LimitWatch | undefined {
  const { timeoutMs, killSignal, signal } = limits;
  if (timeoutMs === 0 && signal === undefined) return undefined;
  const kill = (hit: LimitHit) => child._killForLimit(killSignal, hit);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reffed = true;
  if (timeoutMs > 0) {
    const deadline = performance.now() + timeoutMs;
    const arm = (ms: number) => {
      timer = setTimeout(() => {
        const left = deadline - performance.now();
        if (left > 1) arm(left);
        else kill("timeout");
      }, Math.min(Math.ceil(ms), max_timer_ms));
      if (!reffed) timer.unref();
    };
    arm(timeoutMs);
  }
  const aborted = () => kill("abort");
  signal?.addEventListener("abort", aborted, { once: true });
  return {
    setRef(on) {
      reffed = on;
      if (on) timer?.ref();
      else timer?.unref();
    },
    disarm() {
      clearTimeout(timer);
      timer = undefined;
      signal?.removeEventListener("abort", aborted);
    },
  };
}

/**
 * stdout or stderr of a child with maxBuffer: read at once, whether or not the user reads it
 * (Bun enforces maxBuffer on streams nobody reads), and queued for the user. The chunk that
 * passes the limit is cut at limit + 1 bytes — the byte that broke the limit, nothing after it,
 * however the child's writes were split — then the child is killed and the stream ends.
 */
export function countedStream(source: ReadableStream<Uint8Array>, maxBuffer: number, onExceeded: () => void): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let total = 0;
  let stopped = false;
  const pump = async (controller: ReadableStreamDefaultController<Uint8Array>) => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (stopped) return;
        if (done) break;
        total += value.length;
        if (total <= maxBuffer) {
          controller.enqueue(value);
          continue;
        }
        controller.enqueue(value.subarray(0, value.length - (total - maxBuffer - 1)));
        stopped = true;
        // The kill first, then the pipe: a child still writing must die of killSignal, not of
        // the EPIPE that closing our end under it would cause.
        onExceeded();
        await reader.cancel().catch(() => {});
        break;
      }
      controller.close();
    } catch (error) {
      if (!stopped) controller.error(error);
    }
  };
  return new ReadableStream<Uint8Array>({
    // Not awaited: the pump runs for the child's whole life, and start() must not hold the stream.
    start(controller) {
      void pump(controller);
    },
    async cancel(reason) {
      stopped = true;
      await reader.cancel(reason);
    },
  });
}
