// spawn's `ipc` option: the same scenario through Bun.spawn and through forkless, with bun and
// node children, both serializations, disconnects from either side, the bytes on the wire, the
// child's environment, and Bun's errors for bad options and bad sends.
import { describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { both, errorShape, thrownBy, type AnySpawn } from "./oracle.ts";

const bun = process.execPath;
const echo_ts = join(import.meta.dir, "fixtures", "ipc-echo.ts");
const echo_cjs = join(import.meta.dir, "fixtures", "ipc-echo.cjs");
const node = Bun.which("node");
const hang_guard_ms = 20_000;

interface Session {
  events: string[];
  stdout: string;
  connectedAtStart: boolean;
  connectedAtEnd: boolean;
  exitCode: number;
  messages: { sent: number; received: number } | undefined;
}

/** Sends `outgoing` after the child's first message, then `last`; records everything seen. */
async function session(spawn: AnySpawn, cmd: string[], serialization: string | undefined, outgoing: unknown[], last: "bye" | "exit" | "parent"): Promise<Session> {
  const events: string[] = [];
  let child: any;
  let sentAll = false;
  const finish = () => {
    if (last === "parent") {
      child.disconnect();
      events.push(`disconnect() -> connected=${child.connected}`);
    } else child.send(last);
  };
  child = spawn(cmd, {
    serialization,
    stdout: "pipe",
    ipc(this: unknown, message: unknown, subprocess: unknown) {
      events.push(`message ${JSON.stringify(message)} same=${subprocess === child} this=${this === child}`);
      if (!sentAll) {
        sentAll = true;
        for (const m of outgoing) child.send(m);
        if (outgoing.length === 0) finish();
      } else if (events.filter((e) => e.startsWith("message")).length === outgoing.length + 1) {
        finish();
      }
    },
    onDisconnect(this: unknown, ...args: unknown[]) {
      events.push(`onDisconnect connected=${child.connected} this=${this === child} args=${JSON.stringify(args)}`);
    },
  });
  const connectedAtStart = child.connected;
  const stdout = await new Response(child.stdout).text();
  const exitCode = await child.exited;
  // onDisconnect may come after the exit (Bun: "do not rely on ordering"): wait for it.
  while (!events.some((e) => e.startsWith("onDisconnect"))) await Bun.sleep(1);
  return { events, stdout, connectedAtStart, connectedAtEnd: child.connected, exitCode, messages: child.resourceUsage()?.messages && { ...child.resourceUsage().messages } };
}

const payloads = [{ a: 1, b: [1, "x", null], s: "wörld ✓" }, "text", 42, true, null, [1, [2, [3]]]];

describe("a round trip", () => {
  for (const serialization of ["json", "advanced", undefined]) {
    test(`with a bun child, serialization ${serialization ?? "(default)"}`, async () => {
      const { bun: a, forkless: b } = await both((spawn) => session(spawn, [bun, echo_ts], serialization, payloads, "bye"));
      expect(b).toEqual(a);
      expect(b.events).toContain(`message {"echo":{"a":1,"b":[1,"x",null],"s":"wörld ✓"}} same=true this=true`);
      expect(b.stdout).toBe("child: disconnect\n");
      expect(b.connectedAtStart).toBe(true);
      expect(b.connectedAtEnd).toBe(false);
    }, hang_guard_ms);
  }

  test("advanced keeps what JSON cannot carry", async () => {
    const rich = [new Map([[1, new Set(["a"])]]), new Date(0), /re/g, new Uint8Array([1, 2]), 10n, { nested: { u: undefined } }];
    const { bun: a, forkless: b } = await both(async (spawn) => {
      const got: unknown[] = [];
      let child: any;
      child = spawn([bun, echo_ts], {
        ipc(message: any) {
          if (message.ready) for (const m of rich) child.send({ m });
          else got.push(message.echo.m);
          if (got.length === rich.length) child.send("bye");
        },
      });
      await child.exited;
      return got;
    });
    expect(b).toEqual(a);
    expect(b).toEqual(rich);
  }, hang_guard_ms);

  for (const serialization of ["json", "advanced"]) {
    test(`${serialization}: Buffers keep their type both ways, handle-protocol messages are not delivered (Bun's spawn.ipc test)`, async () => {
      // The child's messages holding Buffers travel as a [message, buffers] envelope (advanced);
      // a cmd "NODE_HANDLE" message without an fd is answered NODE_HANDLE_NACK and withheld.
      const child_source = `
        process.send({ cmd: "USER_CMD", payload: Buffer.from("through-dispatch") });
        process.send({ cmd: "NODE_HANDLE", type: "net.Socket", msg: { buf: Buffer.from("hidden") } });
        process.send({ cmd: "NODE_HANDLE_ACK" });
        process.on("message", (m) => {
          if (m === "bye") return process.disconnect();
          const kind = (v) => (Buffer.isBuffer(v) ? "Buffer" : v?.constructor?.name);
          process.send({ kinds: [kind(m.b), kind(m.list[0]), m.list[0] === m.b, kind(m.u8), kind(m.map?.get?.("k")), kind(m.getter)] });
        });
        process.send({ done: true });`;
      const { bun: a, forkless: b } = await both(async (spawn) => {
        const got: unknown[] = [];
        let child: any;
        child = spawn([bun, "-e", child_source], {
          stdio: ["ignore", "inherit", "inherit"],
          serialization,
          ipc(m: any) {
            got.push({ ...m, payload: m.payload && { buffer: Buffer.isBuffer(m.payload), text: Buffer.from(m.payload.data ?? m.payload).toString() } });
            const b = Buffer.from("x");
            if (m.done) child.send({ b, list: [b], u8: new Uint8Array(2), map: new Map([["k", Buffer.from("y")]]), get getter() { return Buffer.from("g"); } });
            if (m.kinds) child.send("bye");
          },
        });
        await child.exited;
        return got;
      });
      expect(b).toEqual(a);
      expect(b[0]).toEqual({ cmd: "USER_CMD", payload: { buffer: serialization === "advanced", text: "through-dispatch" } });
      expect(b.length).toBe(3);
    }, hang_guard_ms);
  }

  test.skipIf(!node)("with a node child (json)", async () => {
    const { bun: a, forkless: b } = await both((spawn) => session(spawn, [node!, echo_cjs], "json", payloads, "bye"));
    expect(b).toEqual(a);
    expect(b.events[0]).toBe(`message {"ready":true,"connected":true} same=true this=true`);
    expect(b.stdout).toBe("child: disconnect\n");
  }, hang_guard_ms);
});

describe("disconnect", () => {
  test("from the parent: connected turns false at once, the child sees 'disconnect', onDisconnect runs once", async () => {
    const { bun: a, forkless: b } = await both((spawn) => session(spawn, [bun, echo_ts], "json", ["x"], "parent"));
    expect(b).toEqual(a);
    expect(b.events.filter((e) => e.startsWith("onDisconnect"))).toEqual(["onDisconnect connected=false this=true args=[true]"]);
    expect(b.events).toContain("disconnect() -> connected=false");
    expect(b.stdout).toBe("child: disconnect\n");
  }, hang_guard_ms);

  test("from the parent, with a node child", async () => {
    if (!node) return;
    const { bun: a, forkless: b } = await both((spawn) => session(spawn, [node, echo_cjs], "json", [], "parent"));
    expect(b).toEqual(a);
  }, hang_guard_ms);

  test("the child exiting without disconnecting closes the channel", async () => {
    const { bun: a, forkless: b } = await both((spawn) => session(spawn, [bun, echo_ts], "advanced", [], "exit"));
    expect(b).toEqual(a);
    expect(b.connectedAtEnd).toBe(false);
  }, hang_guard_ms);

  test("after disconnect(), send throws and disconnect() is a no-op, as in Bun", async () => {
    const { bun: a, forkless: b } = await both(async (spawn) => {
      const child = spawn([bun, echo_ts], { ipc() {}, stdout: "ignore" });
      child.disconnect();
      const again = thrownBy(() => child.disconnect());
      const send = thrownBy(() => child.send("x"));
      await child.exited;
      const afterExit = thrownBy(() => child.send("x"));
      return { again, send, afterExit };
    });
    expect(b).toEqual(a);
    expect(b.again).toBe("returned");
    expect(b.send).not.toBe("returned");
  }, hang_guard_ms);

  test("a malformed line from the child closes the channel; nothing after it is delivered", async () => {
    const { bun: a, forkless: b } = await both(async (spawn) => {
      const events: string[] = [];
      const child = spawn(["sh", "-c", `printf '{"a":1}\\nnot json\\n{"b":2}\\n' >&3; cat <&3 >/dev/null`], {
        serialization: "json",
        ipc(message: unknown) {
          events.push(JSON.stringify(message));
        },
        onDisconnect() {
          events.push("onDisconnect");
        },
      });
      await child.exited;
      while (!events.includes("onDisconnect")) await Bun.sleep(1);
      return events;
    });
    expect(b).toEqual(a);
    expect(b).toEqual(['{"a":1}', "onDisconnect"]);
  }, hang_guard_ms);
});

describe("the wire", () => {
  const cases: [string, string | undefined, unknown[]][] = [
    ["json", "json", [{ a: 1 }, "a\nb", "\u2028é", { u: undefined, l: [undefined] }, new Date(0), NaN, "\ud800", () => 1]],
    ["advanced", undefined, [{ hello: "wörld", n: 1 }, [1, 2], "x".repeat(300), new Map([[1, 2]]), 1.5, new Blob(["ab"]), { in: [new File(["q"], "f")] }, new Uint8Array([1, 2, 3]), { buffer: Buffer.from("hi"), blob: new Blob(["x"]), again: [Buffer.alloc(1)] }]],
  ];
  for (const [label, serialization, values] of cases) {
    test(`${label}: the parent writes the same bytes as Bun`, async () => {
      const { bun: a, forkless: b } = await both(async (spawn, name) => {
        const file = join(tmpdir(), `forkless-ipc-wire-${process.pid}-${name}`);
        const child = spawn(["sh", "-c", `cat <&3 > '${file}'`], { serialization, ipc() {} });
        for (const value of values) child.send(value);
        child.disconnect();
        await child.exited;
        const bytes = readFileSync(file).toString("hex");
        rmSync(file);
        return bytes;
      });
      expect(b).toBe(a);
      expect(b.length).toBeGreaterThan(0);
    }, hang_guard_ms);
  }

  test("what the child reads from a bun parent: its version packet first (advanced)", async () => {
    const { forkless: b } = await both(async (spawn, name) => {
      const file = join(tmpdir(), `forkless-ipc-version-${process.pid}-${name}`);
      const child = spawn(["sh", "-c", `cat <&3 > '${file}'`], { ipc() {} });
      child.disconnect();
      await child.exited;
      const bytes = readFileSync(file).toString("hex");
      rmSync(file);
      return bytes;
    });
    expect(b).toBe("0102000000");
  }, hang_guard_ms);
});

describe("the child's side", () => {
  test("NODE_CHANNEL_FD and NODE_CHANNEL_SERIALIZATION_MODE end the environment; the fd follows the extra stdio", async () => {
    const { bun: a, forkless: b } = await both(async (spawn) => {
      const child = spawn(["sh", "-c", "tr '\\0' '\\n' < /proc/$$/environ; ls -l /proc/$$/fd | grep -c socket"], {
        ipc() {},
        serialization: "json",
        env: { A: "1" },
        stdio: ["ignore", "pipe", "inherit", "ignore", "pipe"],
      });
      const text = await new Response(child.stdout).text();
      await child.exited;
      return { text, stdio: child.stdio.map((fd: number | null) => (fd === null ? null : "fd")) };
    });
    expect(b).toEqual(a);
    expect(b.text.startsWith("A=1\nNODE_CHANNEL_FD=5\nNODE_CHANNEL_SERIALIZATION_MODE=json\n")).toBe(true);
    expect(b.stdio).toEqual([null, null, null, null, "fd", null]);
  }, hang_guard_ms);

  test("spawnSync ignores ipc, and a non-function ipc opens no channel", async () => {
    const { bun: a, forkless: b } = await both(async (spawn) => {
      const child = spawn(["true"], { ipc: 5, serialization: "bogus" });
      await child.exited;
      return { connected: child.connected, stdio: child.stdio.length };
    });
    expect(b).toEqual(a);
    const sync = (s: AnySpawn) => s(["sh", "-c", "echo ${NODE_CHANNEL_FD:-none}"], { ipc() {} }).stdout.toString();
    expect(sync(require("../src/index.ts").spawnSync)).toBe(sync(Bun.spawnSync));
  });
});

describe("bad input: the same error as Bun", () => {
  const options: [string, object][] = [
    ["serialization bogus", { serialization: "bogus" }],
    ["serialization JSON", { serialization: "JSON" }],
    ["serialization number", { serialization: 5 }],
    ["serialization object", { serialization: {} }],
  ];
  for (const [label, extra] of options) {
    test(label, async () => {
      const { bun: a, forkless: b } = await both((spawn) => thrownBy(() => spawn(["true"], { ipc() {}, ...extra })));
      expect(b).toEqual(a);
      expect(b).not.toBe("returned");
    });
  }

  test("send: exited, no channel, undefined, bigint, symbol, cyclic JSON, uncloneable", async () => {
    const { bun: a, forkless: b } = await both(async (spawn) => {
      const plain = spawn(["sleep", "0.2"]);
      const noChannel = [thrownBy(() => plain.send(1)), thrownBy(() => plain.send(undefined)), plain.connected];
      await plain.exited;
      const exited = thrownBy(() => plain.send(undefined));
      const json = spawn(["sh", "-c", "cat <&3 >/dev/null"], { ipc() {}, serialization: "json" });
      const cyclic: any = {};
      cyclic.self = cyclic;
      const jsonErrors = [undefined, 10n, Symbol("s"), cyclic, { big: 1n }].map((m) => thrownBy(() => json.send(m)));
      json.disconnect();
      const advanced = spawn(["sh", "-c", "cat <&3 >/dev/null"], { ipc() {} });
      const advancedErrors = [() => 1, { f: Symbol("q") }, 10n].map((m) => {
        const e = thrownBy(() => advanced.send(m));
        return e === "returned" ? e : { ...e, string: e.string.split("\n")[0] };
      });
      advanced.disconnect();
      await Promise.all([json.exited, advanced.exited]);
      return { noChannel, exited, jsonErrors, advancedErrors };
    });
    expect(b).toEqual(a);
  });

  test("resourceUsage().messages: the kernel's rusage counters, as in Bun", async () => {
    const { bun: a, forkless: b } = await both((spawn) => session(spawn, [bun, echo_ts], "json", ["x"], "bye"));
    expect(b.messages).toEqual(a.messages);
  }, hang_guard_ms);
});

test("send's callback runs after the write", async () => {
  const { bun: a, forkless: b } = await both(async (spawn) => {
    const order: string[] = [];
    const child = spawn(["sh", "-c", "cat <&3 >/dev/null"], { ipc() {} });
    child.send("x", (error: unknown) => order.push(`callback ${error}`));
    order.push("after send");
    while (order.length < 2) await Bun.sleep(1);
    child.disconnect();
    await child.exited;
    return order;
  });
  expect(b).toEqual(a);
  expect(errorShape).toBeDefined();
});

test("an unref'd child with an open channel does not keep the program alive", () => {
  const fixture = join(import.meta.dir, "fixtures", "ipc-unref.ts");
  const run = (impl: string) => {
    const result = Bun.spawnSync([bun, fixture, impl], { stderr: "pipe" });
    return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
  };
  // A hang here is the failure: the test's own timeout ends it.
  expect(run("forkless")).toEqual(run("bun"));
  expect(run("forkless")).toEqual({ code: 0, stdout: "unref'd true\n", stderr: "" });
}, hang_guard_ms);

test("an unref'd channel delivers again once ref'd, nothing lost", async () => {
  const { bun: a, forkless: b } = await both(async (spawn) => {
    const got: unknown[] = [];
    const child = spawn([bun, echo_ts], { ipc: (message: unknown) => got.push(message), stdout: "ignore" });
    child.unref();
    for (let i = 0; i < 50; i++) child.send(i);
    await Bun.sleep(0);
    child.ref();
    while (got.length < 51) await Bun.sleep(1);
    child.send("bye");
    await child.exited;
    return got;
  });
  expect(b).toEqual(a);
}, hang_guard_ms);
