// The normalised form of one spawn: what options.ts produces from the user's arguments and what
// native.ts encodes for the engine. Plain data only; no validation and no I/O live here.
import type { Limits } from "./limits.ts";
import type { Container } from "./container.ts";
import type { TerminalRequest } from "./terminal.ts";
import type { IpcRequest } from "./ipc.ts";
import type { MemoryLimit } from "./memory.ts";

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
  /** An "fd" slot whose fd forkless makes just before the launch and closes right after it
   * (src/stdio-sources.ts): `fd` is -1 here, and the user never sees the number. */
  source?: SlotSource;
  /** A "pipe" stdin fed from this stream (spawn only); `subprocess.stdin` is the stream. */
  feed?: ReadableStream;
  /** A "pipe" stdout/stderr Bun makes for a ReadableStream target but never reads. */
  unread?: true;
  /** A "pipe" at index >= 3 given as "ipc": with an `ipc` callback, the last one is the channel. */
  ipc?: true;
}

/** Bun.file(path) opened with `flags` (mode 0o664), or bytes written into a fresh memfd. */
export type SlotSource = { path: string; flags: number } | { bytes: Uint8Array };

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
  /** Optional child setup (src/child-setup.ts); absent means none of it. */
  setup?: ChildSetup;
}

/** What the child does between clone and execve besides stdio and cwd (child-setup.ts). */
export interface ChildSetup {
  /** setgroups, setgid, setuid; -1 = unchanged. */
  uid: number;
  gid: number;
  /** A cgroup directory path (opened by the engine), or the caller's fd for one; "" / -1 = none. */
  cgroupPath: string;
  cgroupFd: number;
  /** PR_SET_PDEATHSIG signal number; 0 = none. */
  deathSignal: number;
  /** [resource, soft, hard] with soft/hard as bigint (RLIM_KEEP / RLIM_INFINITY sentinels). */
  rlimits: [number, bigint, bigint][];
  /** Keep the inherited RLIMIT_NOFILE instead of lowering a soft limit above 1024. */
  keepNofile: boolean;
}

/** `command` is argv[0] (argv0 when given): the name Bun reports launch errors against. */
export interface SpawnRequest {
  plan: SpawnPlan;
  command: string;
  onExit: ((subprocess: any, exitCode: number | null, signalCode: string | number | null, error?: Error) => void) | undefined;
  /** timeout, killSignal, signal, maxBuffer (limits.ts); absent when none is set. */
  limits?: Limits;
  /** Launch through a container's helper process: true for the process-wide default one. */
  container?: true | Container;
  /** `terminal` (spawn only): options for a PTY made at launch, or an existing Terminal. */
  terminal?: TerminalRequest;
  /** `ipc` (spawn only): the callback, the serialization and the child's channel fd. */
  ipc?: IpcRequest;
  onDisconnect?: (this: unknown, ...args: unknown[]) => void;
  /** `lazy`: stdout and stderr are read only from their first access, not from the spawn. */
  lazy?: boolean;
  /** `maxMemory` (memory.ts): the tree's limit in bytes; absent for none. */
  maxMemory?: MemoryLimit;
}
