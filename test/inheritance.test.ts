// Exact inheritance: a child gets fds 0–2 plus the extra slots it was given, and nothing else,
// even when the parent holds fds opened WITHOUT O_CLOEXEC (as a native library's open() or a
// dup2() makes them). Bun 1.4.5 gets this right; forkless must too. The child lists its own fds
// with `ls -l /proc/self/fd`, whose one extra fd (the directory it reads) the parser drops.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  both,
  enterProjectRoot,
  bothSync,
  closeFd,
  dup2,
  isCloexec,
  listFdsCommand,
  openFds,
  openInheritable,
  parseFdListing,
  runFixture,
} from "./oracle.ts";

// bunfig.toml's [test] timeout is not read by bun 1.4.5; a guard against hangs, not a timing assert.
setDefaultTimeout(120_000);
// Another file in the same run may leave the process in a directory it has since removed.
beforeAll(enterProjectRoot);

describe("a separate program holding fds 7 and 12 without O_CLOEXEC", () => {
  // In a fresh process, before forkless is even loaded, so the numbers are exactly 7 and 12
  // (inside bun test, 7 already belongs to the runtime).
  test("its children see exactly 0, 1, 2 (and 5 when slot 5 is given), through both", async () => {
    const run = await runFixture("inherit-probe.ts", []);
    expect(run.stderr).toBe("");
    const seen = JSON.parse(run.stdout);
    expect(seen.setup).toEqual({ 7: { placed: 7, flags: 0 }, 12: { placed: 12, flags: 0 } });
    for (const impl of ["bun", "forkless"]) {
      for (const mode of ["async", "sync"]) {
        expect({ [`${impl}-${mode}`]: seen[`${impl}-${mode}-standard`] }).toEqual({ [`${impl}-${mode}`]: [0, 1, 2] });
        expect({ [`${impl}-${mode}`]: seen[`${impl}-${mode}-slot5`] }).toEqual({ [`${impl}-${mode}`]: [0, 1, 2, 5] });
      }
    }
    // Launching must not change the parent's own fds (no FD_CLOEXEC set on them behind its back).
    expect(seen.after).toEqual({ 7: 0, 12: 0 });
  });
});

describe("inside this process", () => {
  // Two inheritable fds with a gap between them, at the first free numbers from 7 and from 12.
  const held: number[] = [];
  function firstFreeFrom(start: number): number {
    const open = new Set(openFds());
    let fd = start;
    while (open.has(fd) || held.includes(fd)) fd++;
    return fd;
  }

  beforeAll(() => {
    for (const [start, path] of [[7, "/etc/hostname"], [12, "/etc/passwd"]] as const) {
      const target = firstFreeFrom(start);
      const fd = openInheritable(path);
      dup2(fd, target);
      if (fd !== target) closeFd(fd);
      held.push(target);
    }
  });
  afterAll(() => {
    for (const fd of held) closeFd(fd);
  });

  const listing = async (spawn: any, stdio: unknown[]) => {
    const child = spawn(listFdsCommand, { stdio });
    const entries = parseFdListing(await child.stdout.text());
    await child.exited;
    return entries;
  };

  test("the held fds are really inheritable (the premise of every test here)", () => {
    for (const fd of held) expect({ fd, cloexec: isCloexec(fd) }).toEqual({ fd, cloexec: false });
  });

  test("spawn: the child has exactly 0, 1, 2", async () => {
    const seen = await both(async (spawn) => (await listing(spawn, ["ignore", "pipe", "ignore"])).map((e) => e.fd));
    expect(seen).toEqual({ bun: [0, 1, 2], forkless: [0, 1, 2] });
  });

  test("spawn: with an extra slot at 5, exactly 0, 1, 2, 5", async () => {
    const seen = await both(async (spawn) => (await listing(spawn, ["ignore", "pipe", "ignore", null, null, "pipe"])).map((e) => e.fd));
    expect(seen).toEqual({ bun: [0, 1, 2, 5], forkless: [0, 1, 2, 5] });
  });

  test("spawnSync: exactly 0, 1, 2, and 0, 1, 2, 5 with slot 5", () => {
    const seen = bothSync((spawnSync) =>
      [["ignore", "pipe", "ignore"], ["ignore", "pipe", "ignore", null, null, "pipe"]].map((stdio) =>
        parseFdListing(spawnSync(listFdsCommand, { stdio }).stdout.toString()).map((e) => e.fd),
      ),
    );
    expect(seen).toEqual({ bun: [[0, 1, 2], [0, 1, 2, 5]], forkless: [[0, 1, 2], [0, 1, 2, 5]] });
  });

  test("a held fd passed by number lands at its slot only, with its file", async () => {
    const seen = await both(async (spawn) => {
      const entries = await listing(spawn, ["ignore", "pipe", "ignore", held[0], null, null, held[1]]);
      return { fds: entries.map((e) => e.fd), extra: entries.filter((e) => e.fd > 2).map((e) => [e.fd, e.mode, e.target]) };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toEqual({ fds: [0, 1, 2, 3, 6], extra: [[3, "r", "/etc/hostname"], [6, "r", "/etc/passwd"]] });
  });

  test("the pipes of one running child never reach another child", async () => {
    const seen = await both(async (spawn) => {
      const holder = spawn(["sleep", "30"], { stdio: ["pipe", "pipe", "pipe", "pipe", "pipe"] });
      const fds = (await listing(spawn, ["ignore", "pipe", "ignore"])).map((e) => e.fd);
      // Our ends of the extra pipes are close-on-exec in the parent, as Bun's are.
      const cloexec = [holder.stdio[3], holder.stdio[4]].map((fd: number) => isCloexec(fd));
      holder.kill();
      await Promise.all([holder.exited, holder.stdout.text(), holder.stderr.text()]);
      await holder.stdin.end();
      return { fds, cloexec };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toEqual({ fds: [0, 1, 2], cloexec: [true, true] });
  });

  test("launching leaves the parent's fds and their flags as they were", async () => {
    const seen = await both(async (spawn) => {
      const before = held.map(isCloexec);
      const child = spawn(["true"], { stdio: ["ignore", "ignore", "ignore", held[0], held[1]] });
      await child.exited;
      return { before, after: held.map(isCloexec), stillOpen: held.every((fd) => openFds().includes(fd)) };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toEqual({ before: [false, false], after: [false, false], stillOpen: true });
  });

  test('"inherit" at an extra slot passes the parent\'s fd of that number', async () => {
    const seen = await both(async (spawn) => {
      const stdio: unknown[] = ["ignore", "pipe", "ignore"];
      stdio[held[0]!] = "inherit";
      const entries = await listing(spawn, stdio);
      return entries.filter((e) => e.fd > 2).map((e) => [e.fd, e.target]);
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toEqual([[held[0], "/etc/hostname"]]);
  });

  // Bun leaves subprocess.stdio[n] null for "inherit" at an extra slot; forkless reports the fd
  // number there (src/subprocess.ts maps every non-pipe, non-ignore slot to slot.fd).
  test('"inherit" at an extra slot shows as null in subprocess.stdio, as in Bun', async () => {
    const seen = await both(async (spawn) => {
      const child = spawn(["true"], { stdio: ["ignore", "ignore", "ignore", "inherit"] });
      await child.exited;
      return child.stdio;
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toEqual([null, null, null, null]);
  });
});
