// Row 6's witness that Node's own child_process forks (libuv on Linux): run by the real `node`
// binary, it times spawn+wait of bench/.build/tiny before and after filling GIB GiB of Buffers.
// Usage: node bench/node-fork.mjs TINY GIB N   → one line of JSON, µs per spawn.
import { spawn } from "node:child_process";

const [tiny, gib, n] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];

function spawnAndWait() {
  return new Promise((resolve, reject) => {
    const child = spawn(tiny, [], { stdio: "ignore" });
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
  });
}

async function samples(count) {
  const us = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await spawnAndWait();
    us.push((performance.now() - t0) * 1e3);
  }
  return us;
}

const base_us = await samples(n * 4);
const t0 = performance.now();
const resident = [];
for (let i = 0; i < gib; i++) resident.push(Buffer.allocUnsafeSlow(2 ** 30).fill(1)); // touched, not reserved
const fill_ms = performance.now() - t0;
const mem_us = await samples(n);
console.log(JSON.stringify({ node: process.version, base_us, mem_us, fill_ms, resident_gib: resident.length }));
