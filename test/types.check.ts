// Type tests: `tsc -p .` (in npm test) checks this file, and the package test checks it again
// against the published declarations. Each line pins what bun-types users expect: spawn's return
// type follows its options. `@ts-expect-error` lines must not compile. Nothing here runs.
import type { FileSink } from "bun";
import { Container, spawn, spawnAndWait, spawnSync, template, engine, type Subprocess, type SyncSubprocess } from "forkless";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function pin<A, B>(_proof: Equal<A, B>): void {}
declare const never: never;
const bytes = new Uint8Array(0);

export function checks(): void {
  // spawn: the defaults (stdin ignored, stdout piped, stderr inherited) and each choice.
  const plain = spawn(["echo", "hi"]);
  pin<typeof plain.stdout, ReadableStream<Uint8Array<ArrayBuffer>>>(true);
  pin<typeof plain.stdin, undefined>(true);
  pin<typeof plain.stderr, undefined>(true);
  const piped = spawn({ cmd: ["cat"], stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  pin<typeof piped.stdin, FileSink>(true);
  pin<typeof piped.stderr, ReadableStream<Uint8Array<ArrayBuffer>>>(true);
  const ignored = spawn(["true"], { stdout: "ignore", stderr: "inherit" });
  pin<typeof ignored.stdout, undefined>(true);
  const fed = spawn(["cat"], { stdin: bytes });
  pin<typeof fed.stdin, undefined>(true);
  pin<typeof plain.exited, Promise<number>>(true);
  pin<typeof plain.exitCode, number | null>(true);
  pin<typeof plain, Subprocess<"ignore", "pipe", "inherit">>(true);

  // spawnSync and spawnAndWait: Buffers for piped outputs (the sync default pipes both).
  const sync = spawnSync(["echo"]);
  pin<typeof sync.stdout, Buffer>(true);
  pin<typeof sync.stderr, Buffer>(true);
  const quiet = spawnSync({ cmd: ["echo"], stdout: "ignore" });
  pin<typeof quiet.stdout, undefined>(true);
  pin<typeof sync.success, boolean>(true);
  const later = spawnAndWait(["echo"], { stderr: "ignore" });
  pin<typeof later, Promise<SyncSubprocess<"pipe", "ignore">>>(true);

  // Templates: a launch without stdio overrides keeps the template's; with them, the overrides'.
  const t = template(["cat"], { stdin: "pipe", stdout: "pipe" });
  const kept = t.spawn({ args: ["-"] });
  pin<typeof kept, Subprocess<"pipe", "pipe", undefined>>(true);
  pin<typeof kept.stdin, FileSink>(true);
  const again = t.spawn({ stdout: "ignore" });
  pin<typeof again.stdout, undefined>(true);
  const once = t.spawnSync();
  pin<typeof once.stdout, Buffer>(true);

  // A Container's spawn is typed as spawn.
  const box = new Container();
  const inBox = box.spawn(["echo"], { stdout: "pipe", stderr: "pipe" });
  pin<typeof inBox.stderr, ReadableStream<Uint8Array<ArrayBuffer>>>(true);
  pin<typeof engine, "native" | "bun">(true);

  // What must not compile.
  // @ts-expect-error cmd is an array of strings
  spawn("echo hi");
  // @ts-expect-error an unknown stdio value
  spawn(["echo"], { stdout: "piped" });
  // @ts-expect-error stdout is not writable
  plain.stdout.write("x");
  // @ts-expect-error stdin was not piped
  plain.stdin.write("x");
  // @ts-expect-error stderr was inherited
  plain.stderr.getReader();
  // @ts-expect-error spawnSync has no exited promise
  sync.exited;
  // @ts-expect-error template overrides take args, not cmd
  t.spawn({ cmd: ["x"] });
  void never;
}
