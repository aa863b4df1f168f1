// The sampler thread of spawnSync's maxMemory (memory.ts): while the JS thread is blocked in the
// engine, this thread watches the child the engine is running. It never loads the engine (one JS
// thread may), only /proc, cgroupfs and kill(2). One generation per spawnSync; a late message of
// a finished one does nothing.
import {
  control_exceeded,
  control_generation_done,
  ChildCgroup,
  MemoryWatch,
  processStartTime,
  sample_interval_ms,
  type WatchDescription,
} from "./memory.ts";
import { signalPid } from "./kill-tree.ts";

declare const self: Worker;

let control: Int32Array | undefined;
let pidCell: Int32Array | undefined;

self.onmessage = (event: MessageEvent) => {
  const data = event.data as { control?: SharedArrayBuffer; pidCell?: SharedArrayBuffer; generation?: number; watch?: WatchDescription };
  if (data.control && data.pidCell) {
    control = new Int32Array(data.control);
    pidCell = new Int32Array(data.pidCell);
  } else if (data.generation !== undefined && data.watch) {
    void watchGeneration(data.generation, data.watch);
  }
};

const done = (generation: number) => Atomics.load(control!, control_generation_done) >= generation;

async function watchGeneration(generation: number, description: WatchDescription): Promise<void> {
  // The engine writes the pid once the child is launched (0 or -1 until then; memory.ts clears it
  // before each generation). Read it before checking the generation: a pid read while this one
  // is not done is this one's.
  let pid = 0;
  for (let pause = 1; pid <= 0; pause = Math.min(pause * 2, sample_interval_ms)) {
    const seen = Atomics.load(pidCell!, 0);
    if (done(generation)) return;
    pid = seen;
    if (pid <= 0) await Bun.sleep(pause);
  }
  // Signalled by pid: the engine holds the child unreaped until it has ended, and the start time
  // tells a reused pid (after the reap, before `done`) from it.
  const start = processStartTime(pid);
  const watch = new MemoryWatch({
    root: pid,
    limit: description.limit,
    cgroup: description.cgroup && new ChildCgroup(description.cgroup.version, description.cgroup.dir),
    signalRoot(signal) {
      if (processStartTime(pid) === start) signalPid(pid, signal);
    },
    // Before the first signal: the JS thread reads it once the engine returns, which the kill causes.
    onExceeded: () => Atomics.store(control!, control_exceeded, generation),
  });
  while (!done(generation)) {
    watch.tick();
    await Bun.sleep(sample_interval_ms);
  }
}
