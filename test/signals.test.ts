// The child's signal state: no handler caught, nothing ignored, nothing blocked, whatever the
// parent has installed (process.on handlers), set to SIG_IGN (a native library's signal()), or
// blocked on the launching thread (pthread_sigmask, as a native library might do). The child is
// `cat /proc/self/status`: cat installs no handlers itself (grep would: SIGSEGV).
// Bun 1.4.5 passes the launching thread's blocked mask on to its children; forkless must not.
import { afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { spawnSync } from "../src/index.ts";
import {
  bit,
  both,
  enterProjectRoot,
  bothSync,
  readProc,
  setDisposition,
  signalMasks,
  SIG_BLOCK,
  SIG_SETMASK,
  threadSigmask,
  type AnySpawn,
} from "./oracle.ts";

// bunfig.toml's [test] timeout is not read by bun 1.4.5; a guard against hangs, not a timing assert.
setDefaultTimeout(120_000);
// Another file in the same run may leave the process in a directory it has since removed.
beforeAll(enterProjectRoot);

const SIGUSR1 = 10;
const SIGUSR2 = 12;
const SIGTERM = 15;
const SIGCHLD = 17;
const SIGWINCH = 28;
const SIG_IGN = 1;

const none = { SigBlk: 0n, SigIgn: 0n, SigCgt: 0n };
const statusCommand = ["cat", "/proc/self/status"];

async function childMasks(spawn: AnySpawn) {
  const child = spawn(statusCommand);
  const masks = signalMasks(await child.stdout.text());
  await child.exited;
  return masks;
}

function childMasksSync(spawnSync: AnySpawn) {
  return signalMasks(spawnSync(statusCommand).stdout.toString());
}

/** Our own masks; the JS thread is the main thread, which /proc/self/status describes. */
function parentMasks() {
  return signalMasks(readFileSync("/proc/thread-self/status", "utf8"));
}

// Every test restores what it changed, whatever happened.
const restore: (() => void)[] = [];
afterEach(() => {
  while (restore.length > 0) restore.pop()!();
});

function addHandler(signal: NodeJS.Signals): () => void {
  let count = 0;
  const handler = () => count++;
  process.on(signal, handler);
  restore.push(() => process.off(signal, handler));
  return () => count;
}

function ignore(signal: number): void {
  const previous = setDisposition(signal, SIG_IGN);
  restore.push(() => setDisposition(signal, previous));
}

function block(mask: bigint): void {
  const previous = threadSigmask(SIG_BLOCK, mask);
  restore.push(() => threadSigmask(SIG_SETMASK, previous));
}

describe("the child's signal state", () => {
  test("with nothing changed in the parent, children have nothing caught, ignored or blocked", async () => {
    const seen = await both(childMasks);
    expect(seen).toEqual({ bun: none, forkless: none });
    // Bun itself ignores SIGPIPE: the reset is real work, not a default.
    expect(parentMasks().SigIgn & bit(13)).toBe(bit(13));
  });

  test("a process.on handler in the parent is not caught in the child", async () => {
    addHandler("SIGUSR2");
    expect(parentMasks().SigCgt & bit(SIGUSR2)).toBe(bit(SIGUSR2));
    const seen = await both(childMasks);
    const seenSync = bothSync(childMasksSync);
    expect(seen).toEqual({ bun: none, forkless: none });
    expect(seenSync).toEqual({ bun: none, forkless: none });
  });

  test("a signal the parent set to SIG_IGN is back to default in the child", async () => {
    ignore(SIGUSR1);
    expect(parentMasks().SigIgn & bit(SIGUSR1)).toBe(bit(SIGUSR1));
    const seen = await both(childMasks);
    const seenSync = bothSync(childMasksSync);
    expect(seen).toEqual({ bun: none, forkless: none });
    expect(seenSync).toEqual({ bun: none, forkless: none });
  });

  test("signals blocked on the launching thread are not blocked in forkless's children", async () => {
    const mask = bit(SIGUSR2) | bit(SIGTERM) | bit(SIGWINCH) | bit(SIGCHLD);
    block(mask);
    expect(parentMasks().SigBlk & mask).toBe(mask);
    const seen = await both(childMasks);
    const seenSync = bothSync(childMasksSync);
    expect(seen.forkless).toEqual(none);
    expect(seenSync.forkless).toEqual(none);
    // Bun is wrong here: its children start with the launching thread's mask, so a child that
    // does not reset it (most do not) never sees SIGTERM or SIGCHLD. Asserted so that the test
    // notices when Bun changes.
    expect(seen.bun).toEqual({ ...none, SigBlk: mask });
    expect(seenSync.bun).toEqual({ ...none, SigBlk: mask });
  });

  test("all three at once, and the parent's own state is untouched by launching", async () => {
    addHandler("SIGUSR2");
    ignore(SIGUSR1);
    block(bit(SIGTERM) | bit(SIGWINCH));
    const before = parentMasks();
    const seen = await both(childMasks);
    const seenSync = bothSync(childMasksSync);
    expect(seen.forkless).toEqual(none);
    expect(seenSync.forkless).toEqual(none);
    expect(seen.bun).toEqual({ ...none, SigBlk: bit(SIGTERM) | bit(SIGWINCH) });
    expect(parentMasks()).toEqual(before);
  });

  test("a blocked SIGTERM does not stop kill() from ending a forkless child", async () => {
    block(bit(SIGTERM));
    const seen = await both(async (spawn) => {
      // `sleep` leaves its mask as it found it: read it from outside once the exec is done.
      const child = spawn(["sleep", "30"]);
      while (readProc(child.pid, "comm") !== "sleep\n") await Bun.sleep(1);
      const blocked = signalMasks(readProc(child.pid, "status")).SigBlk;
      child.kill("SIGTERM");
      // Under Bun the SIGTERM stays pending forever: end that child for good.
      if (blocked !== 0n) child.kill("SIGKILL");
      await child.exited;
      return { blocked, signalCode: child.signalCode };
    });
    expect(seen.forkless).toEqual({ blocked: 0n, signalCode: "SIGTERM" });
    // Bun's child inherited the block and could not be ended by SIGTERM (see above).
    expect(seen.bun).toEqual({ blocked: bit(SIGTERM), signalCode: "SIGKILL" });
  });
});

describe("signals arriving while launching", () => {
  test("a storm of SIGUSR2 at the parent during 200 launches: every child runs and exits clean", async () => {
    const count = addHandler("SIGUSR2");
    const seen = await both(async (spawn) => {
      const storm = Bun.spawn(["sh", "-c", `while kill -USR2 ${process.pid}; do :; done`]);
      const outcomes = new Map<string, number>();
      for (let round = 0; round < 20; round++) {
        const batch = [];
        for (let i = 0; i < 10; i++) batch.push(spawn(statusCommand));
        for (const child of batch) {
          const masks = signalMasks(await child.stdout.text());
          const key = `${await child.exited}:${masks.SigBlk}:${masks.SigIgn}:${masks.SigCgt}`;
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        }
      }
      // The storm must be over before the handler goes (afterEach), or SIGUSR2 would kill us.
      const stormRunning = storm.exitCode === null;
      storm.kill("SIGKILL");
      await storm.exited;
      return { outcomes: Object.fromEntries(outcomes), stormRunning };
    });
    expect(seen.forkless).toEqual({ outcomes: { "0:0:0:0": 200 }, stormRunning: true });
    expect(seen.bun).toEqual({ outcomes: { "0:0:0:0": 200 }, stormRunning: true });
    // The handler really ran: the storm reached this process.
    expect(count()).toBeGreaterThan(0);
  });
});

describe("a child ended by a realtime signal", () => {
  // They have no name: Bun reports the number itself as signalCode, and 128 + n as `exited`.
  for (const signal of [34, 40, 64]) {
    test(`signal ${signal}: spawn and spawnSync report what Bun reports`, async () => {
      const seen = await both(async (spawn, name) => {
        let onExit: unknown;
        const child = spawn(["sh", "-c", `kill -${signal} $$`], { onExit: (_p: unknown, code: unknown, sig: unknown) => void (onExit = [code, sig]) });
        const exited = await child.exited;
        await new Promise((resolve) => setImmediate(resolve)); // onExit runs after exited's callbacks
        const sync = (name === "Bun.spawn" ? Bun.spawnSync : (spawnSync as AnySpawn))(["sh", "-c", `kill -${signal} $$`]);
        return { exited, exitCode: child.exitCode, signalCode: child.signalCode, onExit, sync: { exitCode: sync.exitCode, signalCode: sync.signalCode, success: sync.success } };
      });
      expect(seen.forkless).toEqual(seen.bun);
      expect(seen.bun).toMatchObject({ exited: 128 + signal, signalCode: signal, sync: { signalCode: signal } });
    });
  }
});
