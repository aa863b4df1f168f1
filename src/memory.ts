// maxMemory and memoryUsage() (Bun's main branch): a memory limit on a child and everything it
// starts, and what that tree holds. Where this process may make a memory cgroup under its own (the
// cgroup v1 memory hierarchy, or v2 at the namespace's root), each limited child is born in a fresh
// one and the kernel enforces the limit; elsewhere the tree's resident memory is sampled every
// 25 ms and the tree signalled when it is over. Left out: the Windows job and macOS routes, and
// cgroups for template launches (a template's cgroup is fixed when it is made: they are sampled).
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { argError } from "./errors.ts";
import { describeValue } from "./child-setup.ts";
import { childrenOf, signalPid } from "./kill-tree.ts";
import { readKillSignal } from "./limits.ts";
import type { ChildSetup, SpawnPlan, SpawnRequest } from "./plan.ts";

/** `maxMemory` as the request carries it: the tree's limit in bytes and the sampler's signal. */
export interface MemoryLimit {
  bytes: number;
  killSignal: number;
}

/** What memoryUsage() returns: bytes, for the child and its descendants together. */
export interface MemoryUsage {
  current: number;
  peak: number;
}

/** How a limit is enforced: by the kernel in a memory cgroup, or by sampling /proc. */
export type MemoryRoute = "cgroup" | "sampler";

/** How often a limited tree is looked at (the sampler's, and the cgroup's OOM-kill check). */
export const sample_interval_ms = 25;
/** The most processes one tree walk visits (as kill-tree.ts). */
const max_members = 4096;
const SIGKILL = 9;

// ---------------------------------------------------------------------------------------------
// The option. 0, null, undefined and Infinity mean "no limit"; NaN must not turn it off silently.

/** Reads options.maxMemory (and the killSignal the sampler sends); undefined for no limit. */
export function readMaxMemory(options: { maxMemory?: unknown; killSignal?: unknown }): MemoryLimit | undefined {
  const value = options.maxMemory;
  if (value === undefined || value === null || value === 0 || value === Infinity) return undefined;
  if (typeof value !== "number") {
    throw argError("ERR_INVALID_ARG_TYPE", `The "maxMemory" property must be of type number (bytes). Received ${describeValue(value)}`);
  }
  if (Number.isNaN(value) || value < 0 || value > Number.MAX_SAFE_INTEGER) {
    throw argError(
      "ERR_OUT_OF_RANGE",
      `The value of "maxMemory" is out of range. It must be an integer number of bytes >= 0 and <= ${Number.MAX_SAFE_INTEGER}, or Infinity for no limit. Received ${value}`,
      RangeError,
    );
  }
  if (!Number.isInteger(value)) {
    throw argError("ERR_INVALID_ARG_TYPE", `The "maxMemory" property must be an integer number of bytes. Received ${value}`);
  }
  return { bytes: value, killSignal: readKillSignal(options.killSignal) };
}

// ---------------------------------------------------------------------------------------------
// Where a memory cgroup can go. v1: under our own cgroup in the memory hierarchy (v1 lets a
// populated cgroup have limited children). v2: only where our cgroup may enable the memory
// controller for its children, which the "no internal processes" rule allows at the root only.

export interface CgroupParent {
  version: 1 | 2;
  dir: string;
}

/** The directory of our memory cgroup, from /proc/self/cgroup and /proc/self/mountinfo's text. */
export function memoryCgroupCandidate(procCgroup: string, mountinfo: string): CgroupParent | undefined {
  let v1: string | undefined;
  let v2: string | undefined;
  for (const line of procCgroup.split("\n")) {
    const [id, controllers, ...rest] = line.split(":");
    if (controllers === undefined) continue;
    const path = rest.join(":");
    if (controllers.split(",").includes("memory")) v1 = path;
    else if (id === "0" && controllers === "") v2 = path;
  }
  // The controller lives in one hierarchy: a v1 memory line wins over the (then empty) v2 one.
  const version = v1 !== undefined ? 1 : v2 !== undefined ? 2 : undefined;
  if (version === undefined) return undefined;
  const own = (v1 ?? v2)!;
  // mountinfo: "id parent dev root mountpoint options … - fstype source superoptions".
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    const mount = line.slice(0, Math.max(sep, 0)).split(" ");
    if (sep < 0 || mount.length < 5) continue;
    const [fstype, , superOptions = ""] = line.slice(sep + 3).split(" ");
    const matches = version === 1 ? fstype === "cgroup" && superOptions.split(",").includes("memory") : fstype === "cgroup2";
    if (!matches) continue;
    const root = unescapeMount(mount[3]!);
    if (root !== "/" && own !== root && !own.startsWith(root + "/")) continue;
    const relative = root === "/" ? own : own.slice(root.length);
    return { version, dir: (unescapeMount(mount[4]!) + relative).replace(/\/+$/, "") };
  }
  return undefined;
}

/** mountinfo writes space, tab, newline and backslash as \ooo. */
function unescapeMount(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

let probed: CgroupParent | null | undefined;
let forced: MemoryRoute | undefined;

/** Tests only: take this route wherever it can run ("sampler": never make a cgroup). */
export function setMemoryRouteForTesting(route: MemoryRoute | undefined): void {
  forced = route;
}

/** Our memory cgroup, if we may make limited children in it; probed once per process. */
export function memoryCgroupParent(): CgroupParent | undefined {
  if (probed === undefined) {
    probed = null;
    const candidate = memoryCgroupCandidate(readText("/proc/self/cgroup") ?? "", readText("/proc/self/mountinfo") ?? "");
    if (candidate && probeCgroupParent(candidate)) {
      probed = candidate;
      removeStaleCgroups(candidate.dir);
    }
  }
  return probed ?? undefined;
}

/**
 * Whether a child cgroup under `parent` takes a limit the kernel enforces and reports: the limit
 * files exist (opened without O_CREAT, so a tmpfs that only looks like cgroupfs fails), swap is
 * capped or absent, and on v1 the OOM killer is on and counts its kills (Linux 4.13+).
 */
export function probeCgroupParent(parent: CgroupParent): boolean {
  const dir = `${parent.dir}/forkless-probe-${process.pid}`;
  try {
    if (parent.version === 2) enableMemoryController(parent.dir);
    mkdirSync(dir);
  } catch {
    return false;
  }
  try {
    configureCgroup(parent.version, dir, 1024 * 1024 * 1024);
    if (parent.version === 1) {
      const control = readText(`${dir}/memory.oom_control`) ?? "";
      if (!/^oom_kill /m.test(control) || /^oom_kill_disable 1/m.test(control)) return false;
    }
    return true;
  } catch {
    return false;
  } finally {
    tryRmdir(dir);
  }
}

function enableMemoryController(dir: string): void {
  if ((readText(`${dir}/cgroup.subtree_control`) ?? "").split(" ").map((s) => s.trim()).includes("memory")) return;
  writeFileSync(`${dir}/cgroup.subtree_control`, "+memory", { flag: "r+" });
}

/** Writes the limit, and caps swap (without a cap a v1 or v2 cgroup swaps instead of dying). */
function configureCgroup(version: 1 | 2, dir: string, bytes: number): void {
  writeFileSync(`${dir}/${version === 1 ? "memory.limit_in_bytes" : "memory.max"}`, String(bytes), { flag: "r+" });
  try {
    writeFileSync(`${dir}/${version === 1 ? "memory.memsw.limit_in_bytes" : "memory.swap.max"}`, version === 1 ? String(bytes) : "0", { flag: "r+" });
  } catch (error) {
    if (swapActive()) throw error;
  }
  // v2: the kernel kills the whole tree when it kills for memory (Linux 4.19+); else the watcher does.
  if (version === 2) tryWrite(`${dir}/memory.oom.group`, "1");
}

function swapActive(): boolean {
  return (readText("/proc/swaps") ?? "").trim().split("\n").length > 1;
}

/** Cgroups left by a forkless process that died before removing them (SIGKILL): empty ones go;
 * a live owner's, or one with members, stay. Bounded by one directory listing. */
export function removeStaleCgroups(dir: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names.slice(0, 4096)) {
    const owner = /^forkless-(?:probe-)?(\d+)(?:-\d+)?$/.exec(name)?.[1];
    if (owner === undefined || Number(owner) === process.pid || alive(Number(owner))) continue;
    tryRmdir(`${dir}/${name}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code !== "ESRCH";
  }
}

// ---------------------------------------------------------------------------------------------
// One limited child's cgroup.

let cgroup_sequence = 0;

/** The cgroup of one limited child: made by the launching thread, read by a sampler thread too. */
export class ChildCgroup {
  readonly version: 1 | 2;
  readonly dir: string;
  #observedPeak = 0;

  constructor(version: 1 | 2, dir: string) {
    this.version = version;
    this.dir = dir;
  }

  /** Makes and configures a fresh cgroup under `parent`, or undefined when the kernel refuses. */
  static create(parent: CgroupParent, bytes: number): ChildCgroup | undefined {
    const dir = `${parent.dir}/forkless-${process.pid}-${++cgroup_sequence}`;
    try {
      mkdirSync(dir);
    } catch {
      return undefined;
    }
    try {
      configureCgroup(parent.version, dir, bytes);
    } catch {
      tryRmdir(dir);
      return undefined;
    }
    return new ChildCgroup(parent.version, dir);
  }

  current(): number {
    const bytes = readNumber(`${this.dir}/${this.version === 1 ? "memory.usage_in_bytes" : "memory.current"}`);
    if (bytes > this.#observedPeak) this.#observedPeak = bytes;
    return bytes;
  }

  /** The kernel's high-water mark (v2's memory.peak is Linux 5.19+), or the highest we saw. */
  peak(): number {
    const kernel = readNumber(`${this.dir}/${this.version === 1 ? "memory.max_usage_in_bytes" : "memory.peak"}`);
    return Math.max(kernel, this.#observedPeak);
  }

  /** How many processes the kernel killed here for memory. */
  oomKills(): number {
    const text = readText(`${this.dir}/${this.version === 1 ? "memory.oom_control" : "memory.events"}`) ?? "";
    return Number(/^oom_kill (\d+)/m.exec(text)?.[1] ?? 0);
  }

  members(): number[] {
    return (readText(`${this.dir}/cgroup.procs`) ?? "").split("\n").filter((s) => s !== "").map(Number);
  }

  /** SIGKILL for everyone left, as the kernel's own group kill does (v2's cgroup.kill, 5.14+). */
  killAll(): void {
    if (this.version === 2 && tryWrite(`${this.dir}/cgroup.kill`, "1")) return;
    for (const pid of this.members()) signalPid(pid, SIGKILL);
  }

  /** Removes the cgroup; false while processes are still in it. */
  remove(): boolean {
    return tryRmdir(this.dir);
  }

  /** At our exit: the members move up to our own cgroup (unlimited now) so the directory goes. */
  evacuate(): void {
    const parent = this.dir.slice(0, this.dir.lastIndexOf("/"));
    for (const pid of this.members()) tryWrite(`${parent}/cgroup.procs`, String(pid));
    this.remove();
  }
}

// ---------------------------------------------------------------------------------------------
// The tree sampler: the child and every descendant it has had, each address space counted once.

interface ProcStat {
  start: string;
  rssPages: number;
  /** startcode:endcode:startstack — the same for processes that share one address space. */
  mm: string;
}

/** /proc/<pid>/stat's fields after the parenthesised comm (which may hold spaces). */
function readStat(pid: number | "self"): ProcStat | undefined {
  const text = readText(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state): field n is rest[n - 3].
  return { start: rest[19]!, rssPages: Number(rest[21]), mm: `${rest[23]}:${rest[24]}:${rest[25]}` };
}

/** A process's start time (clock ticks since boot): with the pid, who it is. */
export function processStartTime(pid: number): string | undefined {
  return readStat(pid)?.start;
}

/** AT_PAGESZ from our auxv (pairs of u64: type 6 is the page size). */
function pageSize(): number {
  try {
    const auxv = readFileSync("/proc/self/auxv");
    for (let at = 0; at + 16 <= auxv.length; at += 16) {
      if (auxv.readBigUInt64LE(at) === 6n) return Number(auxv.readBigUInt64LE(at + 8));
    }
  } catch {}
  return 4096;
}
const page_bytes = pageSize();

export class TreeSampler {
  readonly root: number;
  /** pid → its start time: a pid that now starts at another time is someone else. */
  #members = new Map<number, string>();
  #signalled = new Set<number>();
  /** Our own address space: a child between clone and execve shares it and holds nothing yet. */
  #ownMm = readStat("self")?.mm ?? "";

  constructor(root: number) {
    this.root = root;
  }

  /** Resident bytes of the tree now. Descendants stay members after their parent exits (a
   * double fork), as long as they live; each address space is counted once. */
  sample(): number {
    const queue = [this.root, ...this.#members.keys()];
    const visited = new Set<number>();
    const spaces = new Set<string>();
    let bytes = 0;
    for (let i = 0; i < queue.length && visited.size < max_members; i++) {
      const pid = queue[i]!;
      if (visited.has(pid)) continue;
      visited.add(pid);
      const stat = readStat(pid);
      const known = this.#members.get(pid);
      if (stat === undefined || (known !== undefined && known !== stat.start)) {
        this.#members.delete(pid);
        continue;
      }
      this.#members.set(pid, stat.start);
      // Unreadable fields (another user's process) read as 0: count that one by itself.
      const space = stat.mm === "0:0:0" ? `pid ${pid}` : stat.mm;
      if (space !== this.#ownMm && !spaces.has(space)) {
        spaces.add(space);
        bytes += stat.rssPages * page_bytes;
      }
      for (const child of childrenOf(pid)) if (!visited.has(child)) queue.push(child);
    }
    return bytes;
  }

  /** Sends `signal` to every member not signalled yet: a process that appears after the kill
   * gets it from the next call. The root goes through `signalRoot` (its pidfd, where we have one). */
  signalNew(signal: number, signalRoot: (signal: number) => void): void {
    for (const [pid, start] of this.#members) {
      if (this.#signalled.has(pid)) continue;
      this.#signalled.add(pid);
      if (pid === this.root) signalRoot(signal);
      else if (processStartTime(pid) === start) signalPid(pid, signal);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// One child's watch: its limit's enforcement and its memoryUsage().

/** What a sampler thread needs to watch a spawnSync child: plain data, sent as a message. */
export interface WatchDescription {
  limit: MemoryLimit;
  cgroup?: { version: 1 | 2; dir: string };
}

/** What a watch acts on. `signalRoot` signals the child (its pidfd, where we have one);
 * `onExceeded` runs once, before any signal, when the watch decides the limit was hit. */
export interface WatchTarget {
  root: number;
  limit: MemoryLimit | undefined;
  cgroup: ChildCgroup | undefined;
  signalRoot: (signal: number) => void;
  onExceeded?: () => void;
}

export class MemoryWatch {
  readonly limit: MemoryLimit | undefined;
  readonly cgroup: ChildCgroup | undefined;
  #sampler: TreeSampler;
  #target: WatchTarget;
  #exceeded = false;
  #peak = 0;
  #finished = false;

  constructor(target: WatchTarget) {
    this.limit = target.limit;
    this.cgroup = target.cgroup;
    this.#sampler = new TreeSampler(target.root);
    this.#target = target;
  }

  /** undefined without a limit (memoryUsage() alone walks the tree). */
  get route(): MemoryRoute | undefined {
    return this.limit === undefined ? undefined : this.cgroup ? "cgroup" : "sampler";
  }

  get exceeded(): boolean {
    return this.#exceeded;
  }

  usage(): MemoryUsage {
    if (this.#finished) return { current: 0, peak: this.#peak };
    const current = this.cgroup ? this.cgroup.current() : this.#sampler.sample();
    this.#peak = Math.max(this.#peak, current, this.cgroup?.peak() ?? 0);
    return { current, peak: this.#peak };
  }

  /** One look at a running tree: the cgroup's OOM kills (the rest of the tree follows its
   * victim), or the sampler's total against the limit (the whole tree gets killSignal). */
  tick(): void {
    if (this.#finished || this.limit === undefined) return;
    if (this.cgroup) {
      this.#peak = Math.max(this.#peak, this.cgroup.current());
      if (this.cgroup.oomKills() > 0) this.#markExceeded();
      if (this.#exceeded) this.cgroup.killAll();
      return;
    }
    const bytes = this.#sampler.sample();
    this.#peak = Math.max(this.#peak, bytes);
    if (bytes > this.limit.bytes) this.#markExceeded();
    if (this.#exceeded) this.#sampler.signalNew(this.limit.killSignal, this.#target.signalRoot);
  }

  #markExceeded(): void {
    if (this.#exceeded) return;
    this.#exceeded = true;
    this.#target.onExceeded?.();
  }

  /** The root was reaped: final figures; an OOM kill ends the rest of the tree; the cgroup goes
   * now, or as soon as its last member has (lingering). `exceededElsewhere`: a sampler thread saw it. */
  finish(exceededElsewhere = false): void {
    if (this.#finished) return;
    unwatch(this);
    if (exceededElsewhere) this.#exceeded = true;
    if (this.cgroup) {
      this.#peak = Math.max(this.#peak, this.cgroup.peak());
      if (this.cgroup.oomKills() > 0) this.#exceeded = true;
      if (this.#exceeded) this.cgroup.killAll();
      if (!this.cgroup.remove()) linger(this.cgroup, this.#exceeded);
    } else if (this.#exceeded && this.limit) {
      this.#sampler.signalNew(this.limit.killSignal, this.#target.signalRoot);
    }
    this.#finished = true;
  }

  describe(): WatchDescription | undefined {
    if (!this.limit) return undefined;
    return { limit: this.limit, cgroup: this.cgroup && { version: this.cgroup.version, dir: this.cgroup.dir } };
  }
}

// ---------------------------------------------------------------------------------------------
// Before and after a launch (subprocess.ts, sync.ts).

/** A limited launch: the plan to launch (born in its cgroup, on that route), and its watch. */
export interface PreparedMemory {
  plan: SpawnPlan;
  /** After the launch: the watch of the running child (ticked here for spawn()). */
  start(pid: number, signalRoot: (signal: number) => void, ticked: boolean): MemoryWatch;
  /** The launch failed: nothing of it is left. */
  abandon(): void;
}

const no_setup: ChildSetup = { uid: -1, gid: -1, cgroupPath: "", cgroupFd: -1, deathSignal: 0, rlimits: [], keepNofile: false };

/**
 * The cgroup route wants a launcher that honours a per-launch cgroup (direct and container
 * launches do, a template's cannot) and a request without a cgroup of the user's. Below 16 MiB
 * the sampler takes the limit: between clone and execve the child shares our address space, and
 * an OOM kill in its cgroup then (the exec's own charges past a tiny limit) would kill us with it.
 */
export function prepareMemory(request: SpawnRequest, perLaunchCgroup: boolean): PreparedMemory | undefined {
  const limit = request.maxMemory;
  if (limit === undefined) return undefined;
  const setup = request.plan.setup;
  const userCgroup = setup !== undefined && (setup.cgroupPath !== "" || setup.cgroupFd >= 0);
  const parent = perLaunchCgroup && !userCgroup && forced !== "sampler" && limit.bytes >= cgroup_floor_bytes ? memoryCgroupParent() : undefined;
  const cgroup = parent && ChildCgroup.create(parent, limit.bytes);
  const plan = cgroup ? { ...request.plan, setup: { ...(setup ?? no_setup), cgroupPath: cgroup.dir } } : request.plan;
  return {
    plan,
    start(pid, signalRoot, ticked) {
      const watch = new MemoryWatch({ root: pid, limit, cgroup, signalRoot });
      if (ticked) watchTicked(watch);
      return watch;
    },
    abandon() {
      cgroup?.remove();
    },
  };
}

const cgroup_floor_bytes = 16 * 1024 * 1024;

/** memoryUsage() of a child spawned without maxMemory: the tree, walked when asked. */
export function usageWatch(pid: number): MemoryWatch {
  return new MemoryWatch({ root: pid, limit: undefined, cgroup: undefined, signalRoot: () => {} });
}

// ---------------------------------------------------------------------------------------------
// spawn(): one interval for every watched tree, another (slower) for the lingering cgroups.
// Both unref'd: a ref'd child holds the program open itself (subprocess.ts).

const watched = new Set<MemoryWatch>();
/** Cgroups whose child was reaped while others were still in them → whether it was a memory
 * kill (then they get SIGKILL again at each look). Removed once empty, or at our exit. */
const lingering = new Map<ChildCgroup, boolean>();
let ticker: ReturnType<typeof setInterval> | undefined;
let linger_timer: ReturnType<typeof setInterval> | undefined;
const linger_interval_ms = 1000;

function watchTicked(watch: MemoryWatch): void {
  watched.add(watch);
  ticker ??= setInterval(() => {
    for (const each of watched) each.tick();
  }, sample_interval_ms).unref();
}

function unwatch(watch: MemoryWatch): void {
  watched.delete(watch);
  if (watched.size > 0 || ticker === undefined) return;
  clearInterval(ticker);
  ticker = undefined;
}

function linger(cgroup: ChildCgroup, exceeded: boolean): void {
  if (lingering.size === 0) process.once("exit", evacuateLingering);
  lingering.set(cgroup, exceeded);
  linger_timer ??= setInterval(removeLingering, linger_interval_ms).unref();
}

function removeLingering(): void {
  for (const [cgroup, exceeded] of lingering) {
    if (exceeded) cgroup.killAll();
    if (cgroup.remove()) lingering.delete(cgroup);
  }
  if (lingering.size > 0) return;
  process.off("exit", evacuateLingering);
  clearInterval(linger_timer);
  linger_timer = undefined;
}

function evacuateLingering(): void {
  for (const cgroup of lingering.keys()) cgroup.evacuate();
  lingering.clear();
}

/** Tests: the cgroups of ours that still exist (made and not yet removed). */
export function ownCgroupsLeft(): string[] {
  const parent = probed;
  if (!parent) return [];
  try {
    return readdirSync(parent.dir).filter((name) => name.startsWith(`forkless-${process.pid}-`));
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// spawnSync(): the JS thread blocks in the engine, so a sampler thread (memory-worker.ts) watches
// the child. The engine writes the child's pid into the shared result buffer right after the
// launch; the thread takes it from there. One generation per spawnSync: a message from an
// earlier one, read late, finds its generation done and does nothing.

export const control_generation_done = 0;
export const control_exceeded = 1;

let sampler_thread: { worker: Worker; control: Int32Array } | undefined;
let generation = 0;

/** A spawnSync's watch: `end()` after the engine returned, with whether the limit was hit. */
export interface SyncWatch {
  end(): boolean;
}

export function watchSync(prepared: PreparedMemory, pidCell: Int32Array): SyncWatch {
  const thread = (sampler_thread ??= startSamplerThread(pidCell));
  const gen = ++generation;
  const watch = prepared.start(0, () => {}, false);
  // The last spawnSync's pid is still there until the engine clears the result: clear it first.
  Atomics.store(pidCell, 0, 0);
  thread.worker.postMessage({ generation: gen, watch: watch.describe() });
  return {
    end() {
      Atomics.store(thread.control, control_generation_done, gen);
      const seen = Atomics.load(thread.control, control_exceeded) === gen;
      watch.finish(seen);
      return watch.exceeded;
    },
  };
}

function startSamplerThread(pidCell: Int32Array): { worker: Worker; control: Int32Array } {
  const control = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(new URL("./memory-worker.ts", import.meta.url).href);
  worker.postMessage({ control: control.buffer, pidCell: pidCell.buffer });
  worker.unref();
  return { worker, control };
}

// ---------------------------------------------------------------------------------------------

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return undefined;
  }
}

function readNumber(path: string): number {
  const text = readText(path);
  return text === undefined ? 0 : Number(text.trim()) || 0;
}

function tryWrite(path: string, text: string): boolean {
  try {
    writeFileSync(path, text, { flag: "r+" });
    return true;
  } catch {
    return false;
  }
}

function tryRmdir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "ENOENT";
  }
}
