// Resource exhaustion: with the fd table full, a launch must fail with Bun's EMFILE error and
// leave nothing behind (no fd, no child), and succeed again as soon as enough fds are free.
import { expect, test } from "bun:test";
import { join } from "node:path";

interface Attempt {
  free: number;
  impl: "bun" | "forkless";
  launched: boolean;
  code?: string | number;
  errno?: number;
  syscall?: string;
  message?: string;
  text?: string;
  leaked: number;
}

test("EMFILE at every level of free fds: Bun's error, no fd leaked, a launch once there is room", () => {
  // A hard limit of 64 keeps Bun from raising its soft limit, so the fixture can fill the table.
  const run = Bun.spawnSync(["prlimit", "--nofile=64:64", process.execPath, join(import.meta.dir, "fixtures", "exhaustion.ts")], { stderr: "pipe" });
  expect(run.stderr.toString()).toBe("");
  const attempts = JSON.parse(run.stdout.toString()) as Attempt[];
  for (const a of attempts) {
    expect({ free: a.free, impl: a.impl, leaked: a.leaked }).toEqual({ free: a.free, impl: a.impl, leaked: 0 });
    if (a.launched) {
      expect(a).toMatchObject({ text: "ok\n", code: 0 });
    } else {
      expect(a).toMatchObject({ code: "EMFILE", errno: -24 });
      expect(a.message).toStartWith(`EMFILE: too many open files, ${a.syscall}`);
    }
  }
  const firstLaunch = (impl: string) => attempts.find((a) => a.impl === impl && a.launched)?.free ?? Infinity;
  // Both fail with a full table, and forkless needs no more fds than Bun: the stdout socketpair
  // and the pidfd (no error pipe: the exec is learned from a CLONE_CHILD_CLEARTID word).
  expect(attempts.filter((a) => a.free === 0).every((a) => !a.launched)).toBe(true);
  expect(firstLaunch("bun")).toBeLessThanOrEqual(8);
  expect(firstLaunch("forkless")).toBeLessThanOrEqual(firstLaunch("bun"));
});
