// The runtime plugin: `preload = ["forkless/global"]` in bunfig.toml makes every Bun.spawn and
// Bun.spawnSync in the program, its dependencies included, a forkless launch, and Bun.Terminal
// forkless's Terminal (a Bun.Terminal's PTY cannot be handed to forkless). The originals stay
// reachable as `Bun.spawn.original` for code that must have Bun's own.
import { spawn, spawnSync, Terminal } from "./index.ts";

const originals = { spawn: Bun.spawn, spawnSync: Bun.spawnSync };
if ((Bun.spawn as { forkless?: boolean }).forkless !== true) {
  Object.assign(spawn, { forkless: true, original: originals.spawn });
  Object.assign(spawnSync, { forkless: true, original: originals.spawnSync });
  (Bun as { spawn: unknown }).spawn = spawn;
  (Bun as { spawnSync: unknown }).spawnSync = spawnSync;
  (Bun as { Terminal: unknown }).Terminal = Terminal;
}
