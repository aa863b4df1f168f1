// Signal names and numbers, validated the way Bun's Subprocess.kill validates them.
import { constants } from "node:os";
import { argError } from "./errors.ts";

const byName = constants.signals as Record<string, number>;
const byNumber = new Map<number, string>();
for (const [name, number] of Object.entries(byName)) if (!byNumber.has(number)) byNumber.set(number, name);
// Bun lists exactly these (no SIGIOT/SIGPOLL aliases, no realtime signals) in its error message.
const listed = Object.keys(byName).filter((n) => byName[n]! < 32 && n !== "SIGIOT" && n !== "SIGPOLL" && n !== "SIGUNUSED");
const listedMessage = listed.map((n, i) => (i === listed.length - 1 ? `or '${n}'` : `'${n}'`)).join(", ").replace(", or", " or");

export function signalName(signal: number): string | null {
  return byNumber.get(signal) ?? null;
}

/** A kill() argument → signal number, or a TypeError shaped like Bun's. */
export function signalNumber(signal: unknown, fallback = 15): number {
  if (signal === undefined) return fallback;
  if (typeof signal === "string") {
    const n = byName[signal];
    if (n === undefined || n >= 32) throw argError("ERR_INVALID_ARG_TYPE", `signal must be one of ${listedMessage}`);
    return n;
  }
  if (typeof signal === "number" && Number.isInteger(signal)) {
    if (signal < 0) throw argError("ERR_INVALID_ARG_TYPE", "Invalid signal: must be >= 0");
    if (signal >= 32) throw argError("ERR_INVALID_ARG_TYPE", "Invalid signal: must be < 32");
    return signal;
  }
  throw argError("ERR_INVALID_ARG_TYPE", "Invalid signal: must be a string or an integer");
}
