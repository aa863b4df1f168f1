// The few libc calls the rows need and JS cannot make: fds that are not O_CLOEXEC (row 7), resident
// anonymous memory outside the JS heap (row 6), and the JS thread's own CPU time and context
// switches (row 5: off-CPU time is not work). Bench-only; src/ never imports this.
import { dlopen, FFIType, ptr } from "bun:ffi";

const O_RDONLY = 0;
const PROT_READ_WRITE = 0x1 | 0x2;
const MAP_PRIVATE_ANONYMOUS_POPULATE = 0x02 | 0x20 | 0x8000;
const RLIMIT_NOFILE = 7;
const CLOCK_THREAD_CPUTIME_ID = 3;
const RUSAGE_THREAD = 1;

const libc = dlopen("libc.so.6", {
  open: { args: [FFIType.cstring, FFIType.i32], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  getrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  mmap: { args: [FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.i32, FFIType.i32, FFIType.i64], returns: FFIType.ptr },
  munmap: { args: [FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
  clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  getrusage: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
}).symbols;

const timespec = new BigInt64Array(2);
const timespec_ptr = ptr(timespec);

/** CPU time (ms) the calling thread has run: preemption and blocking do not count. */
export function threadCpuMs(): number {
  libc.clock_gettime(CLOCK_THREAD_CPUTIME_ID, timespec_ptr);
  return Number(timespec[0]) * 1e3 + Number(timespec[1]) / 1e6;
}

const rusage = new BigInt64Array(18); // struct rusage: ru_nvcsw and ru_nivcsw are the last two longs

/** The calling thread's context switches so far: voluntary (it blocked) and involuntary (preempted). */
export function threadSwitches(): { voluntary: number; involuntary: number } {
  libc.getrusage(RUSAGE_THREAD, ptr(rusage));
  return { voluntary: Number(rusage[16]), involuntary: Number(rusage[17]) };
}

/** RLIMIT_NOFILE's soft limit (Bun raises it to the hard limit at startup). */
export function openFileLimit(): number {
  const limits = new BigUint64Array(2);
  if (libc.getrlimit(RLIMIT_NOFILE, ptr(limits)) !== 0) throw new Error("getrlimit(RLIMIT_NOFILE) failed");
  return Number(limits[0]);
}

/** Opens /dev/null `count` times WITHOUT O_CLOEXEC: a spawner must keep them out of the child itself. */
export function openDevNull(count: number): number[] {
  const path = Buffer.from("/dev/null\0");
  const fds: number[] = [];
  for (let i = 0; i < count; i++) {
    const fd = libc.open(ptr(path), O_RDONLY);
    if (fd < 0) {
      closeAll(fds);
      throw new Error(`open("/dev/null") failed after ${i} fds`);
    }
    fds.push(fd);
  }
  return fds;
}

export function closeAll(fds: number[]): void {
  for (const fd of fds) libc.close(fd);
}

/** Maps `bytes` of anonymous memory made resident with MAP_POPULATE (every page faulted in). */
export function residentMemory(bytes: number): { release(): void } {
  const address = libc.mmap(null, bytes, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS_POPULATE, -1, 0);
  if (!address || Number(address) >= 2 ** 63) throw new Error(`mmap(${bytes}, MAP_POPULATE) failed`);
  return { release: () => void libc.munmap(address, bytes) };
}
