// spawn's `terminal` option and the Terminal class: the same PTY sessions through Bun.spawn /
// Bun.Terminal and through forkless. Everything waits on what the child prints, never on time.
import { describe, expect, test } from "bun:test";
import { both, thrownBy, type AnySpawn } from "./oracle.ts";
import { Terminal, spawnSync } from "../src/index.ts";

const hang_guard_ms = 20_000;
type TerminalClass = new (options: any) => any;
const classes: Record<string, TerminalClass> = { "Bun.spawn": Bun.Terminal as unknown as TerminalClass, forkless: Terminal as unknown as TerminalClass };

/** Collects a terminal's output; `until(text)` resolves once it has appeared. */
function recorder() {
  let output = "";
  const waiters: [string, () => void][] = [];
  const events: string[] = [];
  return {
    events,
    get output() {
      return output;
    },
    data(_terminal: unknown, bytes: Uint8Array) {
      output += Buffer.from(bytes).toString();
      for (const [text, resolve] of waiters) if (output.includes(text)) resolve();
    },
    exit(_terminal: unknown, code: number, signal: unknown) {
      events.push(`exit ${code} ${signal}`);
    },
    until(text: string): Promise<void> {
      if (output.includes(text)) return Promise.resolve();
      return new Promise((resolve) => waiters.push([text, resolve]));
    },
  };
}

async function exitSeen(events: string[]): Promise<void> {
  while (!events.some((e) => e.startsWith("exit"))) await Bun.sleep(1);
}

describe("an inline terminal", () => {
  test("the child sees a TTY on 0, 1 and 2 with the given size, as its controlling terminal", async () => {
    const { bun: a, forkless: b } = await both(async (spawn) => {
      const rec = recorder();
      const script = "for fd in 0 1 2; do [ -t $fd ] && printf 'tty%s ' $fd; done; echo; stty size; " +
        "[ $(ps -o sid= -p $$) = $$ ] && echo session-leader; [ $(ps -o tpgid= -p $$) = $$ ] && echo foreground; " +
        "(exec 9</dev/tty) && echo has-ctty; echo done";
      const child = spawn(["bash", "-c", script], { terminal: { cols: 100, rows: 30, data: rec.data, exit: rec.exit } });
      const fields = { terminal: child.terminal?.constructor.name, stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, stdio: child.stdio };
      const code = await child.exited;
      await exitSeen(rec.events);
      const closedAfterExit = child.terminal.closed;
      child.terminal.close();
      return { fields, code, output: rec.output, events: rec.events, closedAfterExit, closed: child.terminal.closed };
    });
    expect(b).toEqual(a);
    expect(b.output).toBe("tty0 tty1 tty2 \r\n30 100\r\nsession-leader\r\nforeground\r\nhas-ctty\r\ndone\r\n");
    // EOF on a PTY master is EIO once the child is gone: Bun's `exit` reports it as 1.
    expect(b.events).toEqual(["exit 1 null"]);
    expect(b.fields).toEqual({ terminal: "Terminal", stdin: null, stdout: null, stderr: null, stdio: [null, null, null] });
  }, hang_guard_ms);

  test("write reaches the child's stdin; the PTY echoes it", async () => {
    const { bun: a, forkless: b } = await both(async (spawn) => {
      const rec = recorder();
      const child = spawn(["bash", "-c", "echo ready; read line; echo got=$line"], { terminal: { data: rec.data } });
      await rec.until("ready\r\n");
      const written = child.terminal.write("hello wörld\n");
      await child.exited;
      await rec.until("got=");
      await rec.until("got=hello wörld\r\n");
      child.terminal.close();
      return { written, output: rec.output };
    });
    expect(b).toEqual(a);
    expect(b.output).toBe("ready\r\nhello wörld\r\ngot=hello wörld\r\n");
    expect(b.written).toBe(Buffer.byteLength("hello wörld\n"));
  }, hang_guard_ms);

  test("resize: the child gets SIGWINCH and sees the new size", async () => {
    const { bun: a, forkless: b } = await both(async (spawn) => {
      const rec = recorder();
      const child = spawn(["bash", "-c", "trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 0.01; done"], { terminal: { cols: 80, rows: 24, data: rec.data } });
      await rec.until("ready\r\n");
      child.terminal.resize(132, 43);
      const code = await child.exited;
      child.terminal.close();
      return { code, output: rec.output };
    });
    expect(b).toEqual(a);
    expect(b.output).toBe("ready\r\n43 132\r\n");
  }, hang_guard_ms);

  test("an inline terminal cannot be given to a second spawn", async () => {
    const { bun: a, forkless: b } = await both(async (spawn) => {
      const child = spawn(["true"], { terminal: {} });
      await child.exited;
      const again = thrownBy(() => spawn(["true"], { terminal: child.terminal }));
      child.terminal.close();
      const closed = thrownBy(() => spawn(["true"], { terminal: child.terminal }));
      return { again, closed };
    });
    expect(b).toEqual(a);
    expect(b.again).not.toBe("returned");
  });
});

describe("a Terminal made with new, reused across spawns", () => {
  test("two children in turn, then the terminal alone, then close", async () => {
    const { bun: a, forkless: b } = await both(async (_spawn, name) => {
      const spawn: AnySpawn = name === "forkless" ? (require("../src/index.ts").spawn as AnySpawn) : (Bun.spawn as AnySpawn);
      const rec = recorder();
      const terminal = new classes[name]!({ cols: 50, rows: 10, data: rec.data, exit: rec.exit });
      const first = spawn(["bash", "-c", "stty size; echo first"], { terminal });
      await first.exited;
      await rec.until("first\r\n");
      const second = spawn(["bash", "-c", "stty size; (exec 9</dev/tty) 2>/dev/null || echo no-ctty; echo second"], { terminal });
      await second.exited;
      await rec.until("second\r\n");
      const same = first.terminal === terminal && second.terminal === terminal;
      const openBetween = !terminal.closed && rec.events.length === 0;
      // Nobody reads the slave now: the line discipline echoes what we write.
      terminal.write("echoed\n");
      await rec.until("echoed\r\n");
      terminal.close();
      return { same, openBetween, output: rec.output, events: rec.events, closed: terminal.closed };
    });
    expect(b).toEqual(a);
    // As in Bun, a child of a reused terminal is not made its session leader: no controlling tty.
    expect(b.output).toBe("10 50\r\nfirst\r\n10 50\r\nno-ctty\r\nsecond\r\nechoed\r\n");
    expect(b.events).toEqual(["exit 0 null"]);
  }, hang_guard_ms);

  test("termios flags, raw mode and back, and what a closed terminal does", async () => {
    const { bun: a, forkless: b } = await both((_spawn, name) => {
      const terminal = new classes[name]!({});
      const flags = () => [terminal.inputFlags, terminal.outputFlags, terminal.localFlags, terminal.controlFlags];
      const cooked = flags();
      terminal.setRawMode(true);
      const raw = flags();
      terminal.setRawMode(false);
      const back = flags();
      terminal.localFlags = 0;
      const zero = terminal.localFlags;
      terminal.localFlags = "abc";
      const nan = terminal.localFlags;
      terminal.localFlags = -5;
      const negative = terminal.localFlags;
      const errors = [
        thrownBy(() => terminal.write(undefined)),
        thrownBy(() => terminal.write(5)),
        thrownBy(() => terminal.resize("a", 1)),
        thrownBy(() => terminal.resize(1, 0)),
        thrownBy(() => terminal.resize(70000, 1)),
      ];
      const writes = [terminal.write(""), terminal.write(new ArrayBuffer(2)), terminal.write(new DataView(new ArrayBuffer(3)))];
      terminal.close();
      const afterClose = [flags(), thrownBy(() => terminal.write("x")), thrownBy(() => terminal.resize(10, 10)), thrownBy(() => terminal.setRawMode(true)), thrownBy(() => terminal.close())];
      return { cooked, raw, back, zero, nan, negative, errors, writes, afterClose, tag: Object.prototype.toString.call(terminal) };
    });
    expect(b).toEqual(a);
    expect(b.cooked).toEqual([27906, 5, 35387, 1215]);
  });

  test("the constructor's and the options' errors", async () => {
    const { bun: a, forkless: b } = await both((_spawn, name) => {
      const Class = classes[name]!;
      return [undefined, null, 5, "x", { name: 5 }, { name: "x".repeat(129) }].map((options) => thrownBy(() => new Class(options)?.close()));
    });
    expect(b).toEqual(a);
  });

  test("sizes are coerced as Bun coerces them", async () => {
    const sizes: unknown[] = ["120", 1.9, -1, 0, 70000, 65535, 2 ** 31, true, null, {}, NaN];
    const { bun: a, forkless: b } = await both(async (spawn) => {
      const seen: string[] = [];
      for (const cols of sizes) {
        const rec = recorder();
        const child = spawn(["stty", "size"], { terminal: { cols, rows: 7, data: rec.data } });
        await child.exited;
        await rec.until("\r\n");
        child.terminal.close();
        seen.push(rec.output);
      }
      return seen;
    });
    expect(b).toEqual(a);
    expect(b[0]).toBe("7 120\r\n");
  }, hang_guard_ms);
});

describe("bad input: the same error as Bun", () => {
  const values: [string, unknown][] = [["number", 5], ["string", "x"], ["true", true], ["name number", { name: 5 }], ["name too long", { name: "n".repeat(200) }]];
  for (const [label, terminal] of values) {
    test(`terminal: ${label}`, async () => {
      const { bun: a, forkless: b } = await both((spawn) => thrownBy(() => spawn(["true"], { terminal })));
      expect(b).toEqual(a);
      expect(b).not.toBe("returned");
    });
  }

  test("spawnSync refuses a terminal", () => {
    const ours = thrownBy(() => spawnSync(["true"], { terminal: {} } as never));
    const bun = thrownBy(() => Bun.spawnSync(["true"], { terminal: {} } as any));
    expect(ours).toEqual(bun);
    expect(ours).not.toBe("returned");
  });

  test("a falsy terminal is no terminal", async () => {
    const { bun: a, forkless: b } = await both(async (spawn) => {
      const child = spawn(["true"], { terminal: "" });
      await child.exited;
      return [child.terminal, child.stdout === null];
    });
    expect(b).toEqual(a);
  });
});

test("an unref'd Terminal (and an unref'd child on it) does not keep the program alive", () => {
  const fixture = new URL("./fixtures/terminal-unref.ts", import.meta.url).pathname;
  const run = (impl: string) => {
    const result = Bun.spawnSync([process.execPath, fixture, impl], { stderr: "pipe" });
    return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
  };
  // A hang here is the failure: the test's own timeout ends it.
  expect(run("forkless")).toEqual(run("bun"));
  expect(run("forkless")).toEqual({ code: 0, stdout: "unref'd false\n", stderr: "" });
}, hang_guard_ms);

test("an inline terminal holds the program until its child is done, even unref'd (as in Bun)", async () => {
  const { bun: a, forkless: b } = await both(async (spawn) => {
    const rec = recorder();
    const child = spawn(["bash", "-c", "echo one; echo two"], { terminal: { data: rec.data, exit: rec.exit } });
    child.unref();
    await exitSeen(rec.events);
    child.terminal.close();
    return { output: rec.output, events: rec.events };
  });
  expect(b).toEqual(a);
  expect(b.output).toBe("one\r\ntwo\r\n");
}, hang_guard_ms);

test("Bun's own Terminal is refused with a clear error, not silently replaced by a new PTY", () => {
  const native = new Bun.Terminal({});
  const error = thrownBy(() => require("../src/index.ts").spawn(["true"], { terminal: native }));
  native.close();
  expect(error).not.toBe("returned");
  expect((error as { code: unknown }).code).toBe("ERR_FORKLESS_UNSUPPORTED");
});
