// The engine reports exits to one JS thread. A second thread (a Worker) that loads forkless must
// hear so at once, with a clear error, instead of launching children whose exits never arrive.
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
