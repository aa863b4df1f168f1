// Spawn templates: prepared once, launched many times with only stdio, extra args and a few env
// entries per launch; every launch must look to the child exactly like the equivalent Bun.spawn.
import { describe, expect, test } from "bun:test";
import { template } from "../src/index.ts";
import { expectNoFdLeft } from "./wait.ts";

const script = 'echo "$A|$B|$C|$PWD|$0|$*"';
const env = { A: "1", B: "2", PATH: "/usr/bin:/bin" };

async function bunOutput(args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  const proc = Bun.spawn(["sh", "-c", script, ...args], { env: { ...env, ...extraEnv }, cwd: "/tmp" });
  return await proc.stdout.text();
}

describe("template launches match Bun.spawn of the full command", () => {
  test("no overrides, extra args, env overrides and additions", async () => {
    using t = template(["sh", "-c", script], { env, cwd: "/tmp" });
    expect(await t.spawn().stdout!.text()).toBe(await bunOutput([]));
    expect(await t.spawn({ args: ["x", "y z"] }).stdout!.text()).toBe(await bunOutput(["x", "y z"]));
    expect(await t.spawn({ env: { B: "two", C: "3" } }).stdout!.text()).toBe(await bunOutput([], { B: "two", C: "3" }));
  });

  test("spawnSync from a template: its own defaults (stdout and stderr piped)", () => {
    using t = template(["sh", "-c", "echo out; echo err >&2; exit 4"]);
    const bun = Bun.spawnSync(["sh", "-c", "echo out; echo err >&2; exit 4"]);
    const ours = t.spawnSync();
    expect(ours.exitCode).toBe(bun.exitCode);
    expect(ours.stdout!.toString()).toBe(bun.stdout.toString());
    expect(ours.stderr!.toString()).toBe(bun.stderr.toString());
    expect(Object.keys(ours)).toEqual(Object.keys(bun));
  });

  test("stdio overrides follow Bun's rules", async () => {
    using t = template(["sh", "-c", "cat; echo done >&2"]);
    const proc = t.spawn({ stdin: "pipe", stderr: "pipe" });
    proc.stdin!.write("fed through stdin\n");
    await proc.stdin!.end();
    expect(await proc.stdout!.text()).toBe("fed through stdin\n");
    expect(await proc.stderr!.text()).toBe("done\n");
    expect(await proc.exited).toBe(0);
    expect(() => t.spawn({ stdout: "bogus" as never })).toThrow(/stdio must be an array of/);
  });
});

describe("lifetime and bad input", () => {
  test("a missing executable fails when the template is made, with Bun's error", () => {
    let bunError: any;
    try {
      Bun.spawn(["no-such-command-for-forkless"]);
    } catch (e) {
      bunError = e;
    }
    expect(() => template(["no-such-command-for-forkless"])).toThrow(bunError.message);
  });

  test("bad overrides name the override and what was expected", () => {
    using t = template(["true"]);
    expect(() => t.spawn({ args: [1 as never] })).toThrow(/overrides\.args\.0/);
    expect(() => t.spawn({ env: { A: 5 as never } })).toThrow(/overrides\.env\.A/);
    expect(() => t.spawn({ args: ["a\0b"] })).toThrow(/null bytes/);
  });

  test("a closed template refuses to launch; children still starting are not affected", async () => {
    const t = template(["sh", "-c", "echo still here"]);
    const proc = t.spawn();
    t.close();
    t.close(); // closing twice is harmless
    expect(() => t.spawn()).toThrow(/template is closed/);
    expect(await proc.stdout!.text()).toBe("still here\n");
    expect(await proc.exited).toBe(0);
  });

  test("300 launches leave no fd behind", async () => {
    await expectNoFdLeft(async () => {
      using t = template(["/bin/true"], { stdout: "ignore" });
      for (let round = 0; round < 10; round++) {
        const codes = await Promise.all(Array.from({ length: 30 }, () => t.spawn().exited));
        expect(codes.every((c) => c === 0)).toBe(true);
      }
    });
  });
});
