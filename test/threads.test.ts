// The engine reports exits to one JS thread. A second thread (a Worker) that loads forkless must
// hear so at once, with a clear error, instead of launching children whose exits never arrive.
// A Worker that loads it first polls for exits: the engine never calls into a Worker's VM, which
// terminate() can end at any moment.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { spawn } from "../src/index.ts";

test("a Worker loading forkless after the main thread gets a clear error; the main thread keeps working", async () => {
  const entry = join(import.meta.dir, "..", "src", "index.ts");
  const source = `
    try { await import(${JSON.stringify(entry)}); postMessage("loaded"); }
    catch (e) { postMessage(String(e.message)); }`;
  const worker = new Worker(URL.createObjectURL(new Blob([source], { type: "application/typescript" })));
  const message = await new Promise<string>((resolve) => (worker.onmessage = (e) => resolve(e.data)));
  worker.terminate();
  expect(message).toStartWith("forkless: already loaded by another thread of this process");
  expect(await spawn(["sh", "-c", "exit 3"]).exited).toBe(3);
});

test("a Worker that loaded forkless first can be terminated; the main thread takes over after it", async () => {
  const program = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures", "worker-first.ts")], { stdout: "pipe", stderr: "pipe", timeout: 60_000, killSignal: "SIGKILL" });
  const [stdout, stderr] = await Promise.all([new Response(program.stdout).text(), new Response(program.stderr).text()]);
  await program.exited;
  // Before: SIGSEGV when the Worker's child was reaped (the engine called the gone Worker's callback).
  expect({ stdout, stderr, exitCode: program.exitCode, signalCode: program.signalCode }).toEqual({
    stdout: "worker gone\nits child reaped\nmain thread spawn: 4\n",
    stderr: "",
    exitCode: 0,
    signalCode: null,
  });
});
