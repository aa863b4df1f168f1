// The normalised form of one spawn: what options.ts produces from the user's arguments and what
// native.ts encodes for the engine. Plain data only; no validation and no I/O live here.

/** Where one child fd comes from. */
export type SlotKind =
  | "inherit" // the parent's fd with the same number
  | "ignore" // /dev/null (the engine holds one O_CLOEXEC copy)
  | "pipe" // a fresh AF_UNIX socketpair: the child gets one end, the parent keeps the other
  | "fd"; // the parent's fd `fd`, renumbered to this slot

export interface Slot {
  kind: SlotKind;
  /** The source fd in the parent for "fd" and "inherit" (== the slot index); -1 otherwise. */
  fd: number;
}

export interface SpawnPlan {
  /** The path given to execve: absolute, or containing a "/" relative to `cwd`. */
  file: string;
  /** argv[0] is `argv0` when given, else cmd[0]. */
  argv: string[];
  /** "KEY=value" entries, exactly what the child's environ will hold. */
  envp: string[];
  /** The child's working directory; "" keeps the parent's. */
  cwd: string;
  /** Index = fd number in the child. null = nothing at that number (only at index >= 3). */
  slots: (Slot | null)[];
  /** setsid() in the child. */
  detached: boolean;
  /** setsid() and make the terminal at child fd 0 its controlling terminal (TIOCSCTTY). */
  controllingTerminal?: boolean;
}

/** `command` is argv[0] (argv0 when given): the name Bun reports launch errors against. */
export interface SpawnRequest {
  plan: SpawnPlan;
  command: string;
  onExit: ((subprocess: any, exitCode: number | null, signalCode: string | null, error?: Error) => void) | undefined;
}
