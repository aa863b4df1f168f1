// Signal names and numbers, validated the way Bun's Subprocess.kill validates them (probed on
// Bun 1.4.5): Linux's 31 classic signals by their canonical names, no aliases, no realtime ones.
import { argError } from "./errors.ts";

/** Index = signal number. */
const names = [
  "", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL",
  "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",
  "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF",
  "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
] as const;
const byName = new Map<string, number>(names.map((name, number) => [name, number]));
byName.delete("");
const listed = names.slice(1).map((n) => `'${n}'`);
const listedMessage = `signal must be one of ${listed.slice(0, -1).join(", ")} or ${listed.at(-1)}`;

const SIGTERM = 15;

/** How Bun reports the signal that ended a child: its name, or for a realtime one (34..64, which
 * have no name) the number itself; null for none. */
export function signalName(signal: number): string | number | null {
  if (signal === 0) return null;
  return names[signal] || signal;
}

/** A kill() argument → signal number, or Bun's TypeError. undefined, null, NaN and "" mean the
 * default, as in Bun; 0 probes without signalling. */
export function signalNumber(signal: unknown, fallback = SIGTERM): number {
  if (signal === undefined || signal === null || signal === "" || Number.isNaN(signal)) return fallback;
  if (typeof signal === "string") {
    const n = byName.get(signal);
    if (n === undefined) throw argError("ERR_INVALID_ARG_TYPE", listedMessage);
    return n;
  }
  if (typeof signal === "number") {
    if (!Number.isInteger(signal)) throw argError("ERR_INVALID_ARG_TYPE", "Unknown signal");
    if (signal < 0) throw argError("ERR_INVALID_ARG_TYPE", "Invalid signal: must be >= 0");
    if (signal >= 32) throw argError("ERR_INVALID_ARG_TYPE", "Invalid signal: must be < 32");
    return signal === 0 ? 0 : signal; // -0 is 0
  }
  throw argError("ERR_INVALID_ARG_TYPE", "Invalid signal: must be a string or an integer");
}
