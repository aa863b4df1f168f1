// The size of what a launch hands execve: a cmd whose length is spoofed, and argument lists the
// kernel refuses (E2BIG). Bun reports both from spawn() itself (its vfork waits for the exec);
// forkless predicts the kernel's refusal before the clone, so both forms throw what Bun throws.
import { describe, expect, test } from "bun:test";
import { spawn, spawnSync, template } from "../src/index.ts";
import { thrownBy, type AnySpawn } from "./oracle.ts";

/** What a launch does: the shape of what it threw, or "returned" (its child is killed). */
const outcomes = (cmd: unknown, options: object = {}) => ({
  spawnSync: thrownBy(() => (spawnSync as AnySpawn)(cmd, options)),
  spawn: thrownBy(() => (spawn as AnySpawn)(cmd, options)),
});
const bunOutcomes = (cmd: unknown, options: object = {}) => ({
  spawnSync: thrownBy(() => (Bun.spawnSync as AnySpawn)(cmd, options)),
  spawn: thrownBy(() => (Bun.spawn as AnySpawn)(cmd, options)),
});

describe("a cmd array whose length is spoofed", () => {
  const spoofed = (length: number) => {
    const cmd = ["echo", "hello"];
    Object.defineProperty(cmd, "length", { value: length });
    return cmd;
  };

  test("2^32-1 and 2^32-2: Bun's TypeError at once, in both call forms and from a template", () => {
    for (const length of [2 ** 32 - 1, 2 ** 32 - 2]) {
      const bun = bunOutcomes(spoofed(length));
      expect(bun.spawnSync).toMatchObject({ class: "TypeError", code: "ERR_INVALID_ARG_TYPE", message: "cmd array is too large" });
      expect(outcomes(spoofed(length))).toEqual(bun);
      expect(thrownBy(() => spawnSync({ cmd: spoofed(length) }))).toEqual(thrownBy(() => Bun.spawnSync({ cmd: spoofed(length) })));
      expect(thrownBy(() => template(spoofed(length)))).toEqual(bun.spawn);
    }
  });
});

describe("E2BIG: the kernel's limits on argv and envp", () => {
  // MAX_ARG_STRLEN is 32 pages; a quarter of the 8 MiB default stack bounds the whole list.
  const page = 4096;
  const env = {}; // nothing but what the test puts there

  test("one string: MAX_ARG_STRLEN with its NUL passes, one byte more is E2BIG, in argv and envp", () => {
    for (const length of [32 * page - 1, 32 * page]) {
      for (const [cmd, options] of [[["true", "x".repeat(length)], { env }], [["true"], { env: { A: "x".repeat(length - 2) } }]] as const) {
        const bun = bunOutcomes(cmd, options);
        expect({ length, got: outcomes(cmd, options) }).toEqual({ length, got: bun });
      }
    }
    expect(bunOutcomes(["true", "x".repeat(32 * page)], { env }).spawn).toMatchObject({ code: "E2BIG", syscall: "posix_spawn", path: "true" });
  });

  test("the whole list: at the largest size Bun launches, and one argument more", () => {
    // 64 KiB arguments (each under MAX_ARG_STRLEN): find how many Bun takes, by bisection.
    const arg = "y".repeat(64 * 1024 - 1);
    const bunLaunches = (cmd: string[]) => {
      try {
        return Bun.spawnSync(cmd, { env }).exitCode === 0;
      } catch {
        return false; // E2BIG
      }
    };
    const fits = (count: number) => bunLaunches(["true", ...Array(count).fill(arg)]);
    let low = 1;
    let high = 256;
    expect(fits(low)).toBe(true);
    expect(fits(high)).toBe(false);
    while (high - low > 1) {
      const mid = (low + high) >> 1;
      if (fits(mid)) low = mid;
      else high = mid;
    }
    for (const count of [low, high]) {
      const cmd = ["true", ...Array(count).fill(arg)];
      expect({ count, got: outcomes(cmd, { env }) }).toEqual({ count, got: bunOutcomes(cmd, { env }) });
    }
    // To the byte: the longest last argument Bun still launches, and one byte more.
    const withLast = (bytes: number) => ["true", ...Array(low).fill(arg), "z".repeat(bytes)];
    let shortest = 0;
    let longest = arg.length;
    while (longest - shortest > 1) {
      const mid = (shortest + longest) >> 1;
      if (bunLaunches(withLast(mid))) shortest = mid;
      else longest = mid;
    }
    for (const bytes of [shortest, shortest + 1]) {
      expect({ bytes, got: outcomes(withLast(bytes), { env }) }).toEqual({ bytes, got: bunOutcomes(withLast(bytes), { env }) });
    }
    // A template launch counts its own strings and the overlay's.
    const t = template(["true", ...Array(low).fill(arg)], { env });
    try {
      expect(t.spawnSync().exitCode).toBe(0);
      expect(thrownBy(() => t.spawnSync({ args: [arg] }))).toEqual(bunOutcomes(["true", ...Array(high).fill(arg)], { env }).spawnSync);
    } finally {
      t.close();
    }
  });
});
