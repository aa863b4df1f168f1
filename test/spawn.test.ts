// spawn(): every option and field run through Bun.spawn and through forkless, compared on what a
// user observes (bytes, codes, signal names, field types, callback order, errors). Bun is the
// oracle; where a test expects something Bun does not do, the comment says why.
// Left out on purpose: options forkless does not implement yet (timeout, maxBuffer, ipc, …).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  both,
  enterProjectRoot,
  errorShape,
  isAlive,
  kind,
  listFdsCommand,
  parseFdListing,
  parseStat,
  readProc,
  runFixture,
  thrownBy,
  type AnySpawn,
} from "./oracle.ts";

// bunfig.toml's [test] timeout is not read by bun 1.4.5: set the generous bound here. It is a
// guard against a hang, not a timing assertion.
setDefaultTimeout(120_000);
// Another file in the same run may leave the process in a directory it has since removed.
beforeAll(enterProjectRoot);

const scratch = mkdtempSync(join(tmpdir(), "forkless-spawn-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The fields of a Subprocess that can change over its life, read at one moment. */
function fields(p: any) {
  return { exitCode: p.exitCode, signalCode: p.signalCode, killed: p.killed };
}

describe("exit status and output", () => {
  test("bytes on stdout and stderr, exit code, and the fields before and after exit", async () => {
    const seen = await both(async (spawn) => {
      const p = spawn(["sh", "-c", "printf 'out\\001\\377'; printf 'err' >&2; exit 3"], { stderr: "pipe" });
      const before = fields(p);
      const [out, err] = await Promise.all([p.stdout.bytes(), p.stderr.text()]);
      const exited = await p.exited;
      return { before, out: [...out], err, exited, after: fields(p), pid: typeof p.pid };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun.before).toEqual({ exitCode: null, signalCode: null, killed: false });
    expect(seen.bun.after).toEqual({ exitCode: 3, signalCode: null, killed: true });
    expect(seen.bun.out).toEqual([111, 117, 116, 1, 255]);
  });

  test("exit codes 0..255 and deaths by signal give the same exited, exitCode and signalCode", async () => {
    const scripts = [
      "exit 0", "exit 1", "exit 2", "exit 127", "exit 128", "exit 200", "exit 255",
      "kill -TERM $$", "kill -KILL $$", "kill -INT $$", "kill -HUP $$", "kill -SEGV $$", "kill -ABRT $$",
      "kill -USR1 $$", "kill -PIPE $$", "kill -SYS $$",
    ];
    const seen = await both(async (spawn) => {
      const children = scripts.map((script) => spawn(["sh", "-c", script]));
      const results = [];
      for (const p of children) results.push({ exited: await p.exited, ...fields(p) });
      return results;
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun[6]).toEqual({ exited: 255, exitCode: 255, signalCode: null, killed: true });
    expect(seen.bun[7]).toEqual({ exited: 143, exitCode: null, signalCode: "SIGTERM", killed: true });
  });

  test("exitCode stays null until the event loop has seen the exit", async () => {
    const seen = await both(async (spawn) => {
      const p = spawn(["true"]);
      // Without yielding to the event loop, wait until the child has surely ended (a zombie, or
      // already reaped): the fields must not change under synchronous code.
      // Bounded, so a test can never spin forever (a reused pid would look alive): a hang guard,
      // not a speed assertion.
      const give_up = performance.now() + 10_000;
      while (isAlive(p.pid) && performance.now() < give_up);
      const sync = fields(p);
      await p.exited;
      return { sync, after: fields(p) };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun.sync).toEqual({ exitCode: null, signalCode: null, killed: false });
  });

  test("stdout's helpers text, json, bytes, blob, and arrayBuffer through Response", async () => {
    const payload = '{"a":[1,2],"b":"\\u00e9"}\n';
    const seen = await both(async (spawn) => {
      const read = async (how: (s: ReadableStream<Uint8Array>) => Promise<unknown>) => {
        const p = spawn(["printf", "%s", payload]);
        const value = await how(p.stdout);
        await p.exited;
        return value;
      };
      const blob = (await read((s: any) => s.blob())) as Blob;
      const buffer = (await read((s) => new Response(s).arrayBuffer())) as ArrayBuffer;
      return {
        text: await read((s: any) => s.text()),
        json: await read((s: any) => s.json()),
        bytes: kind(await read((s: any) => s.bytes())),
        blob: [kind(blob), blob.type, blob.size, await blob.text()],
        arrayBuffer: [kind(buffer), buffer.byteLength],
        readableToText: await read((s) => Bun.readableStreamToText(s)),
      };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun.json).toEqual({ a: [1, 2], b: "é" });
  });

  test("stdout is a ReadableStream of the same class and methods as Bun's", async () => {
    const seen = await both(async (spawn) => {
      const p = spawn(["echo", "x"], { stderr: "pipe" });
      const shape = {
        stdout: kind(p.stdout),
        isReadableStream: p.stdout instanceof ReadableStream,
        stderrIsReadableStream: p.stderr instanceof ReadableStream,
        readableIsStdout: p.readable === p.stdout,
        sameStreamTwice: p.stdout === p.stdout,
        methods: ["text", "json", "bytes", "blob", "getReader", "tee", "pipeTo"].map((m) => typeof p.stdout[m]),
      };
      await Promise.all([p.stdout.text(), p.stderr.text(), p.exited]);
      return shape;
    });
    expect(seen.forkless).toEqual(seen.bun);
  });
});

describe("stdin", () => {
  test('"pipe" gives a FileSink: write, flush, end, and the child reads every byte', async () => {
    const seen = await both(async (spawn) => {
      const p = spawn(["cat"], { stdin: "pipe" });
      const sink = p.stdin;
      const methods = ["write", "flush", "end", "ref", "unref", "start"].map((m) => typeof sink[m]);
      const written = [sink.write("hello "), sink.write(new Uint8Array([0, 65, 255])), sink.write(Buffer.from("é"))];
      await sink.flush();
      await sink.end();
      const out = [...(await p.stdout.bytes())];
      return { kind: kind(sink), methods, written, out, exited: await p.exited };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun.kind).toBe("FileSink");
  });

  test("a child that closes its stdin: the parent's end() rejects with EPIPE", async () => {
    const seen = await both(async (spawn) => {
      // The child stays alive until the writes are done: once it has exited, Bun and forkless
      // retire the sink and writes quietly do nothing (the next test), so an exit that came
      // first would decide the outcome (seen here under load: forkless's exit won the race).
      const p = spawn(["sh", "-c", "exec 0<&-; echo closed; exec sleep 1000"], { stdin: "pipe" });
      const reader = p.stdout.getReader();
      const { value } = await reader.read(); // the child's stdin is closed by the time it prints
      expect(new TextDecoder().decode(value)).toBe("closed\n");
      const steps: unknown[] = [];
      try {
        steps.push(["write", p.stdin.write("x")]);
        steps.push(["end", await p.stdin.end()]);
      } catch (error) {
        steps.push(["threw", errorShape(error)]);
      }
      p.kill();
      return { steps, exited: await p.exited };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun.steps[1]).toMatchObject(["threw", { code: "EPIPE" }]);
  });

  // Bun closes the stdin sink when the child exits: later write()/flush()/end() quietly do
  // nothing. forkless keeps writing to the socket (src/subprocess.ts _finish leaves the sink
  // alone), so flush() rejects with EPIPE where Bun's resolves.
  test("writing to the stdin of a child that has exited neither throws nor rejects", async () => {
    const seen = await both(async (spawn) => {
      const p = spawn(["true"], { stdin: "pipe" });
      await p.exited;
      const steps: unknown[] = [];
      for (const step of ["write", "flush", "end"] as const) {
        try {
          steps.push([step, kind(step === "write" ? p.stdin.write("late") : await p.stdin[step]())]);
        } catch (error) {
          steps.push([step, "threw", (error as { code?: string }).code]);
        }
      }
      return steps;
    });
    expect(seen.forkless).toEqual(seen.bun);
  });
});

describe("field types for each stdio value", () => {
  const values = ["pipe", "inherit", "ignore", null, undefined] as const;
  for (const value of values) {
    test(`stdin, stdout and stderr all ${String(value)}`, async () => {
      const seen = await both(async (spawn) => {
        const p = spawn(["true"], { stdin: value, stdout: value, stderr: value });
        const types = {
          stdin: kind(p.stdin),
          stdout: kind(p.stdout),
          stderr: kind(p.stderr),
          readable: kind(p.readable),
          stdio: p.stdio,
        };
        await p.exited;
        await p.stdout?.text?.();
        await p.stderr?.text?.();
        await p.stdin?.end?.();
        return types;
      });
      expect(seen.forkless).toEqual(seen.bun);
    });
  }

  test("the same through the stdio array", async () => {
    const seen = await both(async (spawn) => {
      const results = [];
      for (const value of values) {
        const p = spawn(["true"], { stdio: [value, value, value] });
        results.push([kind(p.stdin), kind(p.stdout), kind(p.stderr), p.stdio]);
        await p.exited;
        await p.stdout?.text?.();
        await p.stderr?.text?.();
        await p.stdin?.end?.();
      }
      return results;
    });
    expect(seen.forkless).toEqual(seen.bun);
  });

  // Bun hands back the number itself when a standard slot was given an fd other than its own
  // (stdout: 7 → subprocess.stdout === 7); forkless leaves the field undefined.
  test("an fd number at stdin/stdout/stderr is handed back as that number", async () => {
    const file = join(scratch, "fd-fields");
    writeFileSync(file, "");
    const seen = await both(async (spawn) => {
      const w = openSync(file, "w");
      const r = openSync(file, "r");
      try {
        const own = spawn(["true"], { stdin: 0, stdout: 1, stderr: 2 });
        await own.exited;
        const other = spawn(["true"], { stdin: r, stdout: w, stderr: w });
        await other.exited;
        const viaArray = spawn(["true"], { stdio: [r, w, w] });
        await viaArray.exited;
        return {
          own: [own.stdin, own.stdout, own.stderr],
          other: [other.stdin === r, other.stdout === w, other.stderr === w, kind(other.readable)],
          viaArray: [viaArray.stdin === r, viaArray.stdout === w, viaArray.stderr === w],
        };
      } finally {
        closeSync(w);
        closeSync(r);
      }
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun.other).toEqual([true, true, true, "number"]);
  });

  // Bun's Subprocess has `writable`, the stdin alias matching `readable`.
  test("writable is stdin, as readable is stdout", async () => {
    const seen = await both(async (spawn) => {
      const piped = spawn(["cat"], { stdin: "pipe" });
      const same = piped.writable === piped.stdin && piped.writable !== undefined;
      await piped.stdin.end();
      await Promise.all([piped.stdout.text(), piped.exited]);
      const ignored = spawn(["true"]);
      await ignored.exited;
      return { same, ignored: kind(ignored.writable) };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun.same).toBe(true);
  });
});

describe("stdio reaching the child", () => {
  test('"ignore" and null connect the child to /dev/null: reads see EOF, writes vanish', async () => {
    const seen = await both(async (spawn) => {
      const results = [];
      for (const value of ["ignore", null]) {
        // cat returns at once only if stdin is at EOF; then the shell becomes `sleep`, and we read
        // its fds from outside (a listing from inside would need a redirected stdout).
        const p = spawn(["sh", "-c", "cat; echo gone; echo gone >&2; exec sleep 30"], { stdio: [value, value, value] });
        while (readProc(p.pid, "comm") !== "sleep\n") await Bun.sleep(1);
        const links = [0, 1, 2].map((fd) => readlinkSync(`/proc/${p.pid}/fd/${fd}`));
        p.kill();
        results.push({ links, exited: await p.exited });
      }
      return results;
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun[0]!.links).toEqual(["/dev/null", "/dev/null", "/dev/null"]);
  });

  // Bun opens the /dev/null of an ignored stdin read-only and of stdout/stderr write-only, so a
  // child writing to its stdin gets EBADF; forkless gives every ignored slot one O_RDWR /dev/null.
  test("ignored standard slots have Bun's access modes", async () => {
    const seen = await both(async (spawn) => {
      const p = spawn(listFdsCommand, { stdio: ["ignore", "pipe", "ignore"] });
      const entries = parseFdListing(await p.stdout.text());
      await p.exited;
      return entries.filter((e) => e.fd !== 1).map((e) => [e.fd, e.mode, e.target]);
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toEqual([[0, "r", "/dev/null"], [2, "w", "/dev/null"]]);
  });

  test("fd numbers: stdin from a file, stdout and stderr into files", async () => {
    const seen = await both(async (spawn, name) => {
      const input = join(scratch, `in-${name}`);
      const output = join(scratch, `out-${name}`);
      writeFileSync(input, "line one\nline two\n");
      const r = openSync(input, "r");
      const w = openSync(output, "w");
      try {
        const p = spawn(["sh", "-c", "cat; echo to-stderr >&2"], { stdin: r, stdout: w, stderr: w });
        const exited = await p.exited;
        return { exited, written: readFileSync(output, "utf8") };
      } finally {
        closeSync(r);
        closeSync(w);
      }
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun.written).toBe("line one\nline two\nto-stderr\n");
  });

  test('"inherit" gives the child the parent\'s own stdin, stdout and stderr', async () => {
    const script = "cat; echo to-stdout; echo to-stderr >&2";
    const options = JSON.stringify({ stdin: "inherit", stdout: "inherit", stderr: "inherit" });
    const bun = await runFixture("spawner.ts", ["bun", "plain", options, "--", "sh", "-c", script], "from-parent\n");
    const forkless = await runFixture("spawner.ts", ["forkless", "plain", options, "--", "sh", "-c", script], "from-parent\n");
    const strip = (r: typeof bun) => ({ ...r, stdout: r.stdout.replace(/^pid \d+\n/m, "") });
    expect(strip(forkless)).toEqual(strip(bun));
    expect(strip(bun).stdout).toBe("from-parent\nto-stdout\nonExit 0 null\n");
    expect(bun.stderr).toBe("to-stderr\n");
  });

  test("defaults: stdin ignored, stdout piped, stderr inherited", async () => {
    const script = "cat; echo to-stdout; echo to-stderr >&2";
    const bun = await runFixture("spawner.ts", ["bun", "plain", "{}", "--", "sh", "-c", script], "from-parent\n");
    const forkless = await runFixture("spawner.ts", ["forkless", "plain", "{}", "--", "sh", "-c", script], "from-parent\n");
    const strip = (r: typeof bun) => ({ ...r, stdout: r.stdout.replace(/^pid \d+\n/m, "") });
    expect(strip(forkless)).toEqual(strip(bun));
    expect(strip(bun).stdout).toBe("onExit 0 null\n");
    expect(bun.stderr).toBe("to-stderr\n");
  });

  test("stdio array wins over stdin/stdout/stderr", async () => {
    const seen = await both(async (spawn) => {
      const p = spawn(["sh", "-c", "echo out; echo err >&2"], { stdio: ["ignore", "pipe", "pipe"], stdout: "ignore", stderr: "ignore" });
      const [out, err] = await Promise.all([p.stdout.text(), p.stderr.text()]);
      return { out, err, exited: await p.exited };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toEqual({ out: "out\n", err: "err\n", exited: 0 });
  });
});

describe("extra slots (index >= 3)", () => {
  test('"pipe" at 3 and 4 shows up as numbers in subprocess.stdio, with the child\'s bytes', async () => {
    const seen = await both(async (spawn) => {
      const p = spawn(["sh", "-c", "printf three >&3; printf four >&4"], { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"] });
      const [three, four] = await Promise.all([3, 4].map((i) => new Response(Bun.file(p.stdio[i]).stream()).text()));
      return {
        types: p.stdio.map(kind),
        length: p.stdio.length,
        three,
        four,
        exited: await p.exited,
      };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun.types).toEqual(["null", "null", "null", "number", "number"]);
    expect(seen.bun.three).toBe("three");
  });

  test("an fd number at an extra slot: the child writes into the parent's file", async () => {
    const seen = await both(async (spawn, name) => {
      const output = join(scratch, `slot3-${name}`);
      const w = openSync(output, "w");
      try {
        const p = spawn(["sh", "-c", "echo via-three >&3"], { stdio: ["ignore", "ignore", "inherit", w] });
        return { stdio3IsFd: p.stdio[3] === w, exited: await p.exited, written: readFileSync(output, "utf8") };
      } finally {
        closeSync(w);
      }
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toEqual({ stdio3IsFd: true, exited: 0, written: "via-three\n" });
  });

  test('"ignore", null and undefined at extra slots leave nothing at those numbers', async () => {
    const seen = await both(async (spawn) => {
      const results = [];
      for (const value of ["ignore", null, undefined]) {
        const p = spawn(listFdsCommand, { stdio: ["ignore", "pipe", "ignore", value, value, "pipe"] });
        const listing = parseFdListing(await p.stdout.text());
        await new Response(Bun.file(p.stdio[5]).stream()).text();
        results.push({ fds: listing.map((e) => e.fd), stdio: p.stdio.map(kind), exited: await p.exited });
      }
      return results;
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun[0]!.fds).toEqual([0, 1, 2, 5]);
  });
});

describe("the object's shape, as programs inspect it", () => {
  test("toString tags, no own keys, a fresh stdio array, onExit's `this`", async () => {
    const seen = await both(async (spawn) => {
      let thisIsIt = false;
      const ended = new Promise<void>((resolve) => {
        const first = spawn(["true"], {
          onExit(this: unknown) {
            thisIsIt = this === first;
            resolve();
          },
        });
      });
      const p = spawn(["true"], { stdio: ["ignore", "pipe", "pipe", "pipe"] });
      await p.exited;
      await ended;
      return {
        tag: Object.prototype.toString.call(p),
        usageTag: Object.prototype.toString.call(p.resourceUsage()),
        ownKeys: Object.keys(p),
        stdioFresh: p.stdio !== p.stdio && p.stdio.length === 4,
        onExitThisIsTheSubprocess: thisIsIt,
      };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toEqual({ tag: "[object Subprocess]", usageTag: "[object ResourceUsage]", ownKeys: [], stdioFresh: true, onExitThisIsTheSubprocess: true });
  });
});

describe("callbacks", () => {
  test("onExit gets (subprocess, exitCode, signalCode, error) after exited's callbacks", async () => {
    const seen = await both(async (spawn) => {
      const log: unknown[] = [];
      const p = spawn(["sh", "-c", "exit 7"], {
        onExit(...args: any[]) {
          log.push(["onExit", args.length, args[0] === p, args[1], args[2], args[3], p.exitCode, p.killed]);
        },
      });
      p.exited.then((code: number) => log.push(["exited-1", code, p.exitCode, p.killed]));
      log.push(["sync", p.exitCode, p.signalCode, p.killed]);
      p.exited.then((code: number) => log.push(["exited-2", code]));
      await p.exited;
      log.push("after-await");
      // Let onExit run if it comes later (it does, in Bun).
      while (log.length < 5) await Bun.sleep(1);
      return log;
    });
    expect(seen.forkless).toEqual(seen.bun);
  });

  test("onExit comes after every reaction to exited, the microtasks those queue included", async () => {
    const seen = await both(async (spawn) => {
      const log: string[] = [];
      await new Promise<void>((resolve) => {
        const p = spawn(["true"], {
          onExit() {
            log.push("onExit");
            queueMicrotask(() => log.push("onExit's microtask"));
            setTimeout(resolve, 0);
          },
        });
        p.exited.then(async () => {
          log.push("exited");
          queueMicrotask(() => log.push("exited's microtask"));
          await null;
          await null;
          log.push("two awaits after exited");
        });
      });
      return log;
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toEqual(["exited", "exited's microtask", "two awaits after exited", "onExit", "onExit's microtask"]);
  });

  test("onExit reports a death by signal", async () => {
    const seen = await both(async (spawn) => {
      let args: unknown[] = [];
      const done = new Promise<void>((resolve) => {
        const p = spawn(["sleep", "30"], {
          onExit(_: unknown, exitCode: number | null, signalCode: string | null, error: unknown) {
            args = [exitCode, signalCode, error];
            resolve();
          },
        });
        p.kill("SIGKILL");
      });
      await done;
      return args;
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toEqual([null, "SIGKILL", undefined]);
  });
});

describe("kill()", () => {
  async function killWith(spawn: AnySpawn, signal: unknown): Promise<unknown> {
    const p = spawn(["sleep", "30"]);
    let thrown: unknown = null;
    try {
      p.kill(signal);
    } catch (error) {
      thrown = errorShape(error);
    }
    // A rejected or harmless signal (0) leaves the child running: end it, and say so.
    if (thrown !== null || signal === 0) p.kill("SIGKILL");
    const exited = await p.exited;
    return { thrown, exited, ...fields(p) };
  }

  test("names and numbers send that signal", async () => {
    const signals = [undefined, "SIGTERM", "SIGKILL", 9, 2, "SIGINT", "SIGUSR1", 10, "SIGHUP", 31, 15, 0];
    const seen = await both(async (spawn) => Promise.all(signals.map((s) => killWith(spawn, s))));
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun[0]).toEqual({ thrown: null, exited: 143, exitCode: null, signalCode: "SIGTERM", killed: true });
  });

  test("out-of-range numbers and non-signal types throw Bun's TypeError", async () => {
    const bad = [-1, 32, 64, 1000, {}, true, [], Symbol.iterator, 2n];
    const seen = await both(async (spawn) => Promise.all(bad.map((s) => killWith(spawn, s))));
    expect(seen.forkless).toEqual(seen.bun);
    expect((seen.bun[0] as any).thrown).toMatchObject({ class: "TypeError", code: "ERR_INVALID_ARG_TYPE", message: "Invalid signal: must be >= 0" });
  });

  // forkless lists the valid names in node's os.constants order (…'SIGTERM', 'SIGCHLD',
  // 'SIGSTKFLT'…); Bun lists them by number (…'SIGTERM', 'SIGSTKFLT', 'SIGCHLD'…). src/signals.ts.
  test("unknown names throw with Bun's message", async () => {
    const bad = ["sigterm", "SIGFOO", "SIGRTMIN", "TERM", "", "31"];
    const seen = await both(async (spawn) => Promise.all(bad.map((s) => killWith(spawn, s))));
    expect(seen.forkless).toEqual(seen.bun);
  });

  // Bun accepts only the names it lists: "SIGIOT" (an alias of SIGABRT) is rejected; forkless
  // sends SIGABRT (src/signals.ts looks names up in os.constants.signals, aliases included).
  test("signal aliases such as SIGIOT are rejected, as in Bun", async () => {
    const seen = await both(async (spawn) => killWith(spawn, "SIGIOT"));
    expect(seen.forkless).toEqual(seen.bun);
    expect((seen.bun as any).thrown.code).toBe("ERR_INVALID_ARG_TYPE");
  });

  // Bun: kill(1.5) throws "Unknown signal"; kill(null) and kill(NaN) send SIGTERM like kill().
  // forkless throws "Invalid signal: must be a string or an integer" for all three.
  test("fractional, null and NaN signals behave as in Bun", async () => {
    const seen = await both(async (spawn) => Promise.all([1.5, null, NaN].map((s) => killWith(spawn, s))));
    expect(seen.forkless).toEqual(seen.bun);
  });

  test("kill() after exit does nothing and throws nothing; a bad name still throws", async () => {
    const seen = await both(async (spawn) => {
      const p = spawn(["sh", "-c", "exit 4"]);
      await p.exited;
      const calls = [undefined, "SIGKILL", 9].map((s) => {
        try {
          p.kill(s);
          return "ok";
        } catch (error) {
          return errorShape(error);
        }
      });
      let badName: unknown = "ok";
      try {
        p.kill(-1);
      } catch (error) {
        badName = errorShape(error);
      }
      return { calls, badName, ...fields(p) };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun.exitCode).toBe(4);
  });
});

describe("ref() and unref()", () => {
  // Each runs as its own bun program: only a whole process shows whether it waits for a child.
  async function program(impl: string, mode: string) {
    // The child's stdout and stderr go nowhere: an unref'd child must not hold the program's pipes.
    const options = JSON.stringify({ stdout: "ignore", stderr: "ignore" });
    const result = await runFixture("spawner.ts", [impl, mode, options, "--", "sleep", mode === "unref" ? "20" : "0.2"]);
    const pid = Number(/^pid (\d+)$/m.exec(result.stdout)?.[1]);
    // Right after the program ended: was its child still running (so the program did not wait)?
    const childAlive = isAlive(pid);
    if (childAlive) process.kill(pid, "SIGKILL");
    return { exitCode: result.exitCode, waited: result.stdout.includes("onExit 0 null"), childAlive, stderr: result.stderr };
  }

  test("a program that unrefs its running child exits at once", async () => {
    const bun = await program("bun", "unref");
    const forkless = await program("forkless", "unref");
    expect(forkless).toEqual(bun);
    expect(bun).toEqual({ exitCode: 0, waited: false, childAlive: true, stderr: "" });
  });

  test("a program that keeps its child ref'd waits for it", async () => {
    const bun = await program("bun", "ref");
    const forkless = await program("forkless", "ref");
    expect(forkless).toEqual(bun);
    expect(bun).toEqual({ exitCode: 0, waited: true, childAlive: false, stderr: "" });
  });

  test("unref() then ref() waits again", async () => {
    const bun = await program("bun", "unref-ref");
    const forkless = await program("forkless", "unref-ref");
    expect(forkless).toEqual(bun);
    expect(bun.waited).toBe(true);
  });

  test("ref() and unref() return undefined and are harmless after exit", async () => {
    const seen = await both(async (spawn) => {
      const p = spawn(["true"]);
      const during = [p.unref(), p.ref()];
      await p.exited;
      const after = [p.unref(), p.ref(), p.unref()];
      return { during, after };
    });
    expect(seen.forkless).toEqual(seen.bun);
  });
});

describe("resourceUsage() and [Symbol.asyncDispose]", () => {
  const shapeOf = (usage: any) =>
    usage === undefined
      ? "undefined"
      : Object.fromEntries(
          ["contextSwitches", "cpuTime", "maxRSS", "messages", "ops", "shmSize", "signalCount", "swapCount"].map((key) => {
            const value = usage[key];
            return [key, typeof value === "object" ? Object.fromEntries(Object.keys(value).map((k) => [k, typeof value[k]])) : typeof value];
          }),
        );

  test("resourceUsage(): undefined while running, then the same fields of the same types", async () => {
    const seen = await both(async (spawn) => {
      const p = spawn(["sh", "-c", "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done"]);
      const running = shapeOf(p.resourceUsage());
      await p.exited;
      const usage = p.resourceUsage();
      return {
        running,
        after: shapeOf(usage),
        total: usage.cpuTime.total === usage.cpuTime.user + usage.cpuTime.system,
        cpuSpent: usage.cpuTime.total > 0n,
        maxRSS: usage.maxRSS > 0,
      };
    });
    expect(seen.forkless).toEqual(seen.bun);
  });

  // Bun's ResourceUsage is a class with prototype getters: no own enumerable keys, so spreading
  // or JSON.stringify show nothing. forkless returns a plain object with eight own keys.
  test("resourceUsage() enumerates like Bun's", async () => {
    const seen = await both(async (spawn) => {
      const p = spawn(["true"]);
      await p.exited;
      const usage = p.resourceUsage();
      return { keys: Object.keys(usage), plain: Object.getPrototypeOf(usage) === Object.prototype };
    });
    expect(seen.forkless).toEqual(seen.bun);
  });

  test("await using kills a running child with SIGTERM and waits for it", async () => {
    const seen = await both(async (spawn) => {
      let child: any;
      {
        await using p = spawn(["sleep", "30"]);
        child = p;
      }
      return { kind: typeof child[Symbol.asyncDispose], ...fields(child), exited: await child.exited };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toEqual({ kind: "function", exitCode: null, signalCode: "SIGTERM", killed: true, exited: 143 });
  });

  // Bun's [Symbol.asyncDispose]() resolves to the exit code for a running child and returns
  // plain undefined (no promise) once the child has exited; forkless always returns a promise
  // of undefined.
  test("[Symbol.asyncDispose]() returns what Bun's returns", async () => {
    const seen = await both(async (spawn) => {
      const running = spawn(["sleep", "30"]);
      const first = running[Symbol.asyncDispose]();
      const firstValue = [first instanceof Promise, await first];
      const ended = spawn(["true"]);
      await ended.exited;
      const second = ended[Symbol.asyncDispose]();
      return { firstValue, second: [second instanceof Promise, await second] };
    });
    expect(seen.forkless).toEqual(seen.bun);
  });
});

describe("call forms and options", () => {
  test("spawn(cmd, options) and spawn({ cmd, ...options }) are the same; the object form ignores a second argument", async () => {
    const seen = await both(async (spawn) => {
      const a = spawn(["sh", "-c", "echo $X; pwd"], { cwd: "/tmp", env: { X: "one" } });
      const b = spawn({ cmd: ["sh", "-c", "echo $X; pwd"], cwd: "/tmp", env: { X: "one" } });
      const c = spawn({ cmd: ["sh", "-c", "echo $X; pwd"], cwd: "/tmp", env: { X: "one" } }, { cwd: "/", env: { X: "two" } });
      return Promise.all([a, b, c].map((p) => p.stdout.text()));
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toEqual(["one\n/tmp\n", "one\n/tmp\n", "one\n/tmp\n"]);
  });

  test("cwd: the child starts there, and ./relative commands resolve against it", async () => {
    const dir = join(scratch, "cwd-dir");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "here.sh"), "#!/bin/sh\necho here \"$PWD\"\n");
    chmodSync(join(dir, "here.sh"), 0o755);
    const seen = await both(async (spawn) => {
      const a = await spawn(["pwd"], { cwd: dir }).stdout.text();
      const b = await spawn(["./here.sh"], { cwd: dir }).stdout.text();
      const c = await spawn(["pwd"], { cwd: "" }).stdout.text();
      return [a, b, c];
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun[0]).toBe(`${dir}\n`);
    expect(seen.bun[2]).toBe(`${process.cwd()}\n`);
  });

  test("env: exactly the given variables, values stringified, undefined skipped", async () => {
    const seen = await both(async (spawn) => {
      const exact = await spawn(["env"], { env: { FOO: "bar", NUM: 1, BOOL: false, SKIP: undefined, EMPTY: "", "WITH=EQ": "v" } }).stdout.text();
      const empty = await spawn(["env"], { env: {} }).stdout.text();
      const inherited = await spawn(["env"]).stdout.text();
      return { exact, empty, inheritedHasPath: inherited.includes("\nPATH=") || inherited.startsWith("PATH=") };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun.exact).toBe("FOO=bar\nNUM=1\nBOOL=false\nEMPTY=\nWITH=EQ=v\n");
    expect(seen.bun.empty).toBe("");
  });

  test("env.PATH is the one used to find the command", async () => {
    const bin = join(scratch, "path-bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "forkless-probe-cmd"), "#!/bin/sh\necho found \"$0\"\n");
    chmodSync(join(bin, "forkless-probe-cmd"), 0o755);
    const seen = await both(async (spawn) => {
      const found = await spawn(["forkless-probe-cmd"], { env: { PATH: `/nonexistent:${bin}` } }).stdout.text();
      const missing = thrownBy(() => spawn(["forkless-probe-cmd"]));
      const shadowed = thrownBy(() => spawn(["true"], { env: { PATH: bin } }));
      // No PATH, an empty PATH, and a PATH without /usr/bin: the lookup outcome for each.
      const lookups = [{}, { PATH: "" }, { PATH: "/usr/sbin" }].map((env) =>
        ["true", "sysctl"].map((command) => {
          const outcome = thrownBy(() => spawn([command, "--version"], { env, stdout: "ignore", stderr: "ignore" }));
          return outcome === "returned" ? "found" : outcome.code;
        }),
      );
      return { found, missing, shadowed, lookups };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun.found).toBe(`found ${bin}/forkless-probe-cmd\n`);
    expect(seen.bun.missing).toMatchObject({ code: "ENOENT", message: 'Executable not found in $PATH: "forkless-probe-cmd"' });
  });

  test("later writes to process.env reach neither the child nor the PATH lookup", async () => {
    const seen = await both(async (spawn) => {
      process.env.FORKLESS_LATE_VAR = "late";
      try {
        return await spawn(["sh", "-c", "echo \"[$FORKLESS_LATE_VAR]\""]).stdout.text();
      } finally {
        delete process.env.FORKLESS_LATE_VAR;
      }
    });
    expect(seen.forkless).toEqual(seen.bun);
  });

  test("detached: the child leads a new session and process group; otherwise it shares ours", async () => {
    const ours = parseStat(readFileSync("/proc/self/stat", "latin1"));
    const seen = await both(async (spawn) => {
      const results = [];
      for (const detached of [true, false, undefined]) {
        const p = spawn(["cat", "/proc/self/stat"], { detached });
        const stat = parseStat(await p.stdout.text());
        await p.exited;
        results.push({
          ownSession: stat.session === p.pid,
          ownGroup: stat.pgrp === p.pid,
          ourSession: stat.session === ours.session,
          ourGroup: stat.pgrp === ours.pgrp,
          parentIsUs: stat.ppid === process.pid,
        });
      }
      return results;
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun[0]).toEqual({ ownSession: true, ownGroup: true, ourSession: false, ourGroup: false, parentIsUs: true });
    expect(seen.bun[1]!.ourSession).toBe(true);
  });

  test("argv0 replaces argv[0] only; the executable is still found from cmd[0]", async () => {
    const seen = await both(async (spawn) => {
      const renamed = await spawn(["cat", "/proc/self/cmdline"], { argv0: "renamed" }).stdout.text();
      const plain = await spawn(["cat", "/proc/self/cmdline"]).stdout.text();
      const shell = await spawn(["sh", "-c", "echo $0"], { argv0: "-my-shell" }).stdout.text();
      return { renamed, plain, shell };
    });
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun.renamed).toBe("renamed\0/proc/self/cmdline\0");
    expect(seen.bun.plain).toBe("cat\0/proc/self/cmdline\0");
  });

  test("arguments reach the child byte for byte (spaces, quotes, UTF-8, empty)", async () => {
    const args = ["a b", "", "'\"", "é中😀", "-n", "$HOME", "*"];
    const seen = await both(async (spawn) => spawn(["printf", "[%s]", ...args]).stdout.text());
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun).toBe(args.map((a) => `[${a}]`).join(""));
  });
});

describe("launch errors", () => {
  const dir = join(scratch, "errors");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "not-executable"), "#!/bin/sh\necho hi\n");
  chmodSync(join(dir, "not-executable"), 0o644);
  writeFileSync(join(dir, "a-file"), "");

  const cases: [string, unknown[], object?][] = [
    ["missing command in PATH", ["forkless-no-such-command"]],
    ["missing absolute path", ["/no/such/forkless"]],
    ["missing relative path", ["./no-such-forkless"]],
    ["missing cwd", ["true"], { cwd: "/no/such/dir" }],
    ["cwd is a file", ["true"], { cwd: join(dir, "a-file") }],
    ["missing cwd with an absolute command", ["/bin/true"], { cwd: "/no/such/dir" }],
    ["a directory", [dir]],
    ["a non-executable file", [join(dir, "not-executable")]],
    ["a non-executable file relative to cwd", ["./not-executable"], { cwd: dir }],
    ["a non-executable file in PATH is skipped", ["not-executable"], { env: { PATH: dir } }],
    ["NUL in cmd[0]", ["tr\0ue"]],
    ["NUL in an argument", ["echo", "a\0b"]],
    ["NUL in cwd", ["true"], { cwd: "/tm\0p" }],
    ["NUL in an env value", ["true"], { env: { A: "x\0y" } }],
    ["NUL in an env key", ["true"], { env: { "A\0B": "x" } }],
    ["NUL in argv0", ["true"], { argv0: "a\0b" }],
    ["empty cmd", []],
  ];

  for (const [name, cmd, options] of cases) {
    test(`${name}: same error, thrown by spawn() itself`, async () => {
      const seen = await both((spawn) => ({
        twoArgs: thrownBy(() => spawn(cmd, options)),
        objectForm: thrownBy(() => spawn({ cmd, ...options })),
      }));
      expect(seen.forkless).toEqual(seen.bun);
      expect(seen.bun.twoArgs).not.toBe("returned");
    });
  }

  // Bun finds every execve failure before spawn() returns and throws it; forkless checks only
  // what stat/access can see before clone, so a file execve refuses for its content (ENOEXEC:
  // no #! and not ELF; ENOENT: a #! interpreter that does not exist) is launched, exits 127, and
  // the error reaches onExit instead (DESIGN.md: "a late exec failure reaches onExit's error").
  test("a file execve refuses for its content throws from spawn(), as in Bun", async () => {
    writeFileSync(join(dir, "garbage"), "garbage\x00\x01\x02");
    chmodSync(join(dir, "garbage"), 0o755);
    writeFileSync(join(dir, "bad-interpreter"), "#!/no/such/interpreter\n");
    chmodSync(join(dir, "bad-interpreter"), 0o755);
    const seen = await both((spawn) => [thrownBy(() => spawn([join(dir, "garbage")])), thrownBy(() => spawn([join(dir, "bad-interpreter")]))]);
    expect(seen.forkless).toEqual(seen.bun);
    expect(seen.bun[0]).toMatchObject({ code: "ENOEXEC", syscall: "posix_spawn" });
  });
});
