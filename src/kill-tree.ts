// Subprocess.killTree: signal a child and every descendant, so that none escapes between steps.
// Freeze the tree top-down with SIGSTOP (a stopped process cannot fork, exit-and-be-reaped or
// reap its own children, so the pids we read stay theirs), re-walk until a pass finds nothing
// new, deliver the signal to all, then SIGCONT all so a catchable signal is acted on at once.
// Left out, because it cannot be found: a descendant already reparented outside the tree (to
// init or a subreaper that is not in it) — a double fork whose middle process exited earlier.
import { readdirSync, readFileSync } from "node:fs";

const SIGCONT = 18;
const SIGSTOP = 19;
/** Signals whose default action stops: they are delivered without the final SIGCONT. */
const stop_signals = new Set([SIGSTOP, 20, 21, 22]);
/** The most processes one call visits, and how long it waits (in polls) for one to stop. */
const max_processes = 4096;
const max_stop_polls = 2000;

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * `signalRoot` signals the root through its pidfd (no pid reuse), throwing Bun's error if that
 * fails; descendants are signalled by pid, which is safe only because their parents are stopped.
 */
export function killTree(rootPid: number, signal: number, signalRoot: (signal: number) => void): void {
  if (signal === 0) return signalRoot(0); // a liveness probe: nothing is paused
  if (signal === SIGCONT) {
    // Resuming pauses nothing; a stopped process cannot have forked since it stopped.
    signalRoot(SIGCONT);
    for (const pid of walk(rootPid)) signalPid(pid, SIGCONT);
    return;
  }
  const frozen = freeze(rootPid, signalRoot);
  signalRoot(signal);
  for (const pid of frozen) signalPid(pid, signal);
  if (stop_signals.has(signal)) return; // the caller asked for a stopped tree
  signalRoot(SIGCONT);
  for (const pid of frozen) signalPid(pid, SIGCONT);
}

/** Stops the root and then every descendant, parents first; returns the descendants. */
function freeze(rootPid: number, signalRoot: (signal: number) => void): number[] {
  signalRoot(SIGSTOP);
  waitStopped(rootPid);
  const seen = new Set<number>([rootPid]);
  const order = [rootPid];
  // Each pass lists the children of every stopped process; a process that forked before its
  // SIGSTOP landed shows its new child in the next pass. Stable when a pass adds nothing.
  for (let added = true; added && order.length < max_processes; ) {
    added = false;
    for (let i = 0; i < order.length && order.length < max_processes; i++) {
      for (const child of childrenOf(order[i]!)) {
        if (seen.has(child)) continue;
        seen.add(child);
        order.push(child);
        signalPid(child, SIGSTOP);
        waitStopped(child);
        added = true;
      }
    }
  }
  return order.slice(1);
}

/** Every descendant found now, parents first (no freezing: for SIGCONT). */
function walk(rootPid: number): number[] {
  const order = [rootPid];
  for (let i = 0; i < order.length && order.length < max_processes; i++) order.push(...childrenOf(order[i]!));
  return order.slice(1);
}

/** The children of every thread of `pid` (/proc/<pid>/task/<tid>/children, Linux 3.5+). */
export function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return []; // gone (reaped), or never ours to read
  }
  const out: number[] = [];
  for (const tid of tasks) {
    let text = "";
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/children`, "latin1");
    } catch {
      continue;
    }
    for (const word of text.split(" ")) if (word !== "" && word !== "\n") out.push(Number(word));
  }
  return out;
}

/** The state letter of /proc/<pid>/stat (after the parenthesised comm), or "" when gone. */
function stateOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.charAt(stat.lastIndexOf(")") + 2);
  } catch {
    return "";
  }
}

/** SIGSTOP takes effect when the target next leaves the kernel, not when kill() returns: wait
 * (bounded) until it is stopped (T), traced (t), a zombie (Z, X) or gone. */
function waitStopped(pid: number): void {
  for (let i = 0; i < max_stop_polls; i++) {
    const state = stateOf(pid);
    if (state === "T" || state === "t" || state === "Z" || state === "X" || state === "") return;
    Atomics.wait(sleeper, 0, 0, i < 20 ? 0.05 : 1);
  }
}

export function signalPid(pid: number, signal: number): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: it exited between the walk and now (a zombie has no children to hide).
  }
}
