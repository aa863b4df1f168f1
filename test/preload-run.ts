// Runs a scenario fixture (test/fixtures/child-process-runner.ts) twice, as its own program: on
// Bun's own spawn and under the forkless preload. Each run is a process group of its own, so
// whatever a run leaves behind is found, reported and killed, never left to the next test.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { eventually } from "./wait.ts";

const preload = join(import.meta.dir, "..", "src", "global.ts");
/** A hang guard for a whole fixture, not a timing assert: its scenarios have guards of their own. */
const run_bound_ms = 90_000;

export interface FixtureRun {
  results: Record<string, unknown>;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** The program did not end by itself within the bound (something kept its event loop alive). */
  hung: boolean;
  /** Processes still in the run's group once the program ended (killed since). */
  leftovers: boolean;
}

export async function runFixture(fixture: string, withPreload: boolean): Promise<FixtureRun> {
  const dir = mkdtempSync(join(tmpdir(), "forkless-preload-run-"));
  const out = join(dir, "results.json");
  const args = withPreload ? ["--preload", preload] : [];
  // A HOME of its own, empty: bash reads ~/.bashrc when its stdin is a socket (its rshd
  // heuristic), and Bun's and forkless's "pipe" stdin is one, so every `bash -c` of a scenario
  // (zx runs each command so) ran the user's rc file. Here it ran `pyenv init`, whose rehash,
  // raced by the other run's bash, wrote to stderr now and then: a difference of the machine's.
  const home = join(dir, "home");
  mkdirSync(home);
  const env = { ...process.env, HOME: home };
  // detached: the run leads a session and a process group of its own (its pid is the group's id).
  const program = Bun.spawn([process.execPath, ...args, fixture, out], { stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true, env });
  const stdout = new Response(program.stdout).text();
  const stderr = new Response(program.stderr).text();
  let hung = false;
  const bound = setTimeout(() => {
    hung = true;
    program.kill("SIGKILL");
  }, run_bound_ms);
  const exitCode = await program.exited;
  clearTimeout(bound);
  // A child killed just before the end may still be dying: wait (bounded) for the group to empty.
  const leftovers = !(await eventually(() => liveMembers(program.pid) === 0));
  signalGroup(program.pid, "SIGKILL");
  try {
    // No results file: the program died before its end; its stderr says why.
    const results = existsSync(out) ? (JSON.parse(readFileSync(out, "utf8")) as Record<string, unknown>) : {};
    return { results, exitCode: hung ? null : exitCode, stdout: await stdout, stderr: await stderr, hung, leftovers };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Both runs at once (they are separate programs); Bun's first in the result. */
export async function runBoth(fixture: string): Promise<{ bun: FixtureRun; forkless: FixtureRun }> {
  const [bun, forkless] = await Promise.all([runFixture(fixture, false), runFixture(fixture, true)]);
  return { bun, forkless };
}

/** The processes of process group `group` that are not zombies (a zombie waits for its reaper). */
function liveMembers(group: number): number {
  let live = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // After the ")" that ends the command name: state, ppid, pgrp, …
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === group && state !== "Z") live++;
  }
  return live;
}

function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch {
    // ESRCH: nobody left.
  }
}
