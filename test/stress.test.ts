// Volume: a thousand launches leave no zombie and no fd behind; 8 MiB through a pipe neither
// deadlocks nor loses a byte; Bun.spawn and forkless used side by side in one process both get
// every exit status right (each reaps only its own children). No timing is asserted here.
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { constants } from "node:os";
import { spawn, spawnSync } from "../src/index.ts";
import { enterProjectRoot, openFdTargets, zombiesOf, type AnySpawn } from "./oracle.ts";

// bunfig.toml's [test] timeout is not read by bun 1.4.5; a guard against hangs, not a timing assert.
setDefaultTimeout(120_000);
// Another file in the same run may leave the process in a directory it has since removed.
beforeAll(enterProjectRoot);

/** Runs `count` jobs with at most `width` in flight; returns their results in job order. */
async function bounded<T>(count: number, width: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await job(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, lane));
  return results;
}

/** One launch in one of four shapes; every stream it creates is read to the end or closed. */
async function oneLaunch(launch: AnySpawn, i: number): Promise<string> {
  switch (i % 4) {
    case 0: {
      const child = launch(["true"], { stdio: ["ignore", "ignore", "ignore"] });
      return `${await child.exited}`;
    }
    case 1: {
      const child = launch(["sh", "-c", `echo ${i}; exit ${i % 7}`]);
      const out = await child.stdout.text();
      return `${await child.exited}:${out.trim()}`;
    }
    case 2: {
      const child = launch(["cat"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      child.stdin.write(`in-${i}`);
      await child.stdin.end();
      const [out, err] = await Promise.all([child.stdout.text(), child.stderr.text()]);
      return `${await child.exited}:${out}${err}`;
    }
    default: {
      const child = launch(["sleep", "30"], { stdout: "ignore" });
      child.kill(i % 8 === 3 ? "SIGKILL" : "SIGTERM");
      await child.exited;
      return `${child.signalCode}`;
    }
  }
}

function expected(i: number): string {
  switch (i % 4) {
    case 0:
      return "0";
    case 1:
      return `${i % 7}:${i}`;
    case 2:
      return `0:in-${i}`;
    default:
      return i % 8 === 3 ? "SIGKILL" : "SIGTERM";
  }
}

/** The fds of this process that are new since `before` (or point elsewhere now), and those gone. */
function fdDiff(before: Map<number, string>, after: Map<number, string>) {
  const added = [...after].filter(([fd, target]) => before.get(fd) !== target);
  const removed = [...before].filter(([fd, target]) => after.get(fd) !== target);
  return { added, removed };
}

describe("a thousand launches", () => {
  // Bun.spawn goes first, as the control: if it leaves nothing behind either, the check is fair.
  for (const [name, launch] of [["Bun.spawn", Bun.spawn], ["forkless", spawn]] as const) {
    test(`${name}: 1,000 launches, 50 in flight, every result right, no zombie, no extra fd`, async () => {
      // Warm up each shape once, so that what the runtime opens lazily on first use is open.
      await bounded(8, 8, (i) => oneLaunch(launch as AnySpawn, i));
      const before = openFdTargets();
      const results = await bounded(1000, 50, (i) => oneLaunch(launch as AnySpawn, i));
      const wrong = results.map((r, i) => [i, r, expected(i)]).filter(([, r, e]) => r !== e);
      expect(wrong).toEqual([]);
      expect(zombiesOf(process.pid)).toEqual([]);
      // Streams and sinks close their fds a few loop turns after EOF/end: allow a bounded number
      // of turns. Only fds added since `before` are leaks (fds the warm-up left may close late).
      let added = fdDiff(before, openFdTargets()).added;
      for (let turn = 0; turn < 100 && added.length > 0; turn++) {
        await Bun.sleep(1);
        added = fdDiff(before, openFdTargets()).added;
      }
      expect(added).toEqual([]);
    });
  }

  test("forkless spawnSync: 300 runs, no zombie, no extra fd", () => {
    spawnSync(["true"]);
    const before = openFdTargets();
    const wrong: unknown[] = [];
    for (let i = 0; i < 300; i++) {
      const result = spawnSync(["sh", "-c", `echo ${i}; echo e >&2; exit ${i % 5}`], { stdio: ["ignore", "pipe", "pipe", "pipe"] });
      if (result.exitCode !== i % 5 || result.stdout.toString() !== `${i}\n`) wrong.push([i, result.exitCode, result.stdout.toString()]);
    }
    expect(wrong).toEqual([]);
    expect(zombiesOf(process.pid)).toEqual([]);
    expect(fdDiff(before, openFdTargets()).added).toEqual([]);
  });
});

describe("finished children kept in memory", () => {
  // Bun closes a child's pipe ends once it has exited, keeping what stdout/stderr held for a late
  // read: a program holding many finished Subprocess objects (a job list) holds no fds for them.
  // forkless keeps every untouched pipe end open until the Subprocess is garbage-collected
  // (src/subprocess.ts: closeWhenCollected for stdout/stderr; the stdin FileSink until end(),
  // and it holds two fds per sink), so such a program runs out of fds: here 4 per child.
  test("hold no fds once exited, and stdout can still be read late", async () => {
    const seen: Record<string, unknown> = {};
    for (const [name, launch] of [["Bun.spawn", Bun.spawn], ["forkless", spawn]] as const) {
      await bounded(4, 4, (i) => oneLaunch(launch as AnySpawn, i));
      const before = openFdTargets();
      const children = [];
      for (let i = 0; i < 50; i++) {
        const child = (launch as AnySpawn)(["sh", "-c", `echo ${i}`], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
        children.push(child);
        await child.exited;
      }
      let added = fdDiff(before, openFdTargets()).added;
      for (let turn = 0; turn < 100 && added.length > 0; turn++) {
        await Bun.sleep(1);
        added = fdDiff(before, openFdTargets()).added;
      }
      seen[name] = { heldFds: added.length, lateRead: await children[7]!.stdout.text() };
    }
    expect(seen.forkless).toEqual(seen["Bun.spawn"]);
    expect(seen["Bun.spawn"]).toEqual({ heldFds: 0, lateRead: "7\n" });
  });
});

describe("8 MiB through a pipe", () => {
  const size = 8 * 1024 * 1024;
  const data = new Uint8Array(size);
  // Not all one byte: a lost or duplicated chunk must change the result.
  for (let i = 0, x = 1; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = x >>> 24;
  }

  for (const [name, launch] of [["Bun.spawn", Bun.spawn], ["forkless", spawn]] as const) {
    test(`${name}: stdin → cat → stdout, written and read at the same time`, async () => {
      const child = (launch as AnySpawn)(["cat"], { stdin: "pipe", stdout: "pipe" });
      const reading = child.stdout.bytes();
      // Write in chunks, flushing as we go, while the reader drains: neither side may block
      // the other for good.
      const chunk = 256 * 1024;
      for (let offset = 0; offset < size; offset += chunk) {
        child.stdin.write(data.subarray(offset, offset + chunk));
        await child.stdin.flush();
      }
      await child.stdin.end();
      const out: Uint8Array = await reading;
      expect(await child.exited).toBe(0);
      expect(out.length).toBe(size);
      expect(Bun.hash(out)).toBe(Bun.hash(data));
    });
  }

  test("forkless: 8 MiB out of a child while its stderr also fills", async () => {
    const child = spawn(["sh", "-c", `head -c ${size} /dev/zero; head -c 1000000 /dev/zero >&2`], { stderr: "pipe" });
    const [out, err] = await Promise.all([child.stdout.bytes(), child.stderr.bytes()]);
    expect(await child.exited).toBe(0);
    expect([out.length, err.length]).toEqual([size, 1000000]);
  });
});

describe("Bun.spawn and forkless in one process", () => {
  test("200 of each, interleaved, mixed exit codes 0..255 and signals: every status right", async () => {
    const signals = ["SIGTERM", "SIGKILL", "SIGINT", "SIGHUP", "SIGUSR1", "SIGSEGV", "SIGABRT", "SIGQUIT"];
    const plan = Array.from({ length: 400 }, (_, i) => {
      const impl = i % 2 === 0 ? "Bun.spawn" : "forkless";
      const k = i >> 1;
      return k % 5 === 4
        ? { impl, script: `kill -${signals[k % signals.length]!.slice(3)} $$`, exitCode: null, signalCode: signals[k % signals.length]! }
        : { impl, script: `exit ${(k * 37) % 256}`, exitCode: (k * 37) % 256, signalCode: null };
    });
    const results = await bounded(plan.length, 40, async (i) => {
      const { impl, script } = plan[i]!;
      const launch = (impl === "Bun.spawn" ? Bun.spawn : spawn) as AnySpawn;
      let onExit: unknown[] = [];
      const child = launch(["sh", "-c", script], {
        stdout: "ignore",
        onExit: (_: unknown, code: number | null, signal: string | null) => (onExit = [code, signal]),
      });
      const exited = await child.exited;
      while (onExit.length === 0) await Bun.sleep(0);
      return { impl, exitCode: child.exitCode, signalCode: child.signalCode, exited, onExit };
    });
    const wrong = results.filter((r, i) => {
      const want = plan[i]!;
      const code = want.exitCode ?? 128 + (constants.signals as Record<string, number>)[want.signalCode!]!;
      return r.exitCode !== want.exitCode || r.signalCode !== want.signalCode || r.exited !== code || r.onExit[0] !== want.exitCode || r.onExit[1] !== want.signalCode;
    });
    expect(wrong).toEqual([]);
    expect(results.filter((r) => r.impl === "forkless").length).toBe(200);
    expect(zombiesOf(process.pid)).toEqual([]);
  });
});
