// Waiting for process state, once for every test file. The kernel and Bun finish things a moment
// after a user's event (a thread exits after its Worker's `close`, a process closes its files before
// it turns zombie, a stream's fd closes after its EOF): sampling one instant flakes on a busy
// machine. Each wait here is bounded: a hang guard that names what never happened, not a timing assert.
import { expect } from "bun:test";
import { openFdTargets } from "./oracle.ts";

/** Long enough for a loaded 2-core machine; a condition that is still false then is a real failure. */
export const settleMs = 10_000;

/**
 * Polls `condition` until it holds, for at most `boundMs`; returns whether it held. The caller
 * asserts on the result, so the failure reads as the state it expected, not as a timeout.
 */
export async function eventually(condition: () => boolean, boundMs = settleMs): Promise<boolean> {
  const deadline = performance.now() + boundMs;
  for (let pause = 1; !condition(); pause = Math.min(pause * 2, 50)) {
    if (performance.now() > deadline) return condition();
    await Bun.sleep(pause);
  }
  return true;
}

/** The fds this process holds now that it did not hold (with the same target) in `before`. */
export function fdsOpenedSince(before: Map<number, string>): [number, string][] {
  return [...openFdTargets()].filter(([fd, target]) => before.get(fd) !== target);
}

/**
 * Every fd this process holds after `scenario` ran is one it held before, same number and target.
 * Only what the scenario itself opened can fail this: an earlier test's fd closing meanwhile cannot.
 */
export async function expectNoFdLeft(scenario: () => Promise<unknown> | unknown): Promise<void> {
  const before = openFdTargets();
  await scenario();
  await eventually(() => fdsOpenedSince(before).length === 0);
  expect(fdsOpenedSince(before)).toEqual([]);
}
