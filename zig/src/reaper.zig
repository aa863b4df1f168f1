//! One thread that watches every async child: epoll over its pidfd (readable = it ended), and on
//! every wake (at least every few ms while any is pending) the exec word of each child not yet
//! known to have exec'd (zeroed by the kernel = its stack and request can be freed). It reaps
//! exactly that child with waitid(P_PIDFD) — never waitpid(-1), which would steal Bun's — and
//! queues a Completion for JS, which it wakes through one notify callback per batch.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const abi = @import("abi.zig");
const launch_mod = @import("launch.zig");
const child = @import("child.zig");
const Launch = launch_mod.Launch;

const Child = struct {
    pid: i32 = -1,
    pidfd: i32 = -1,
    /// Until its exec word clears: the launch (stack, request) the child may still be using.
    launch: ?*Launch = null,
    stage: abi.Stage = .none,
    errno: i32 = 0,
    /// Bumped each time the slot is reused, so a stale id from JS never reaches a new child.
    generation: u32 = 0,
    live: bool = false,
};

pub const Notify = *const fn () callconv(.c) void;

/// The bound on children watched at once (each holds a pidfd), and so on queued completions.
/// Both tables are reserved once at init; the reaper thread never allocates.
pub const max_children = 1 << index_bits;
const index_bits = 14;

var mutex: std.Thread.Mutex = .{};
var table: []Child = &.{};
var free_slots: []u32 = &.{};
var free_count: usize = 0;
/// Ids of children whose launch is still held (not known to have exec'd), at most max_children.
var pending: []u32 = &.{};
var pending_count: usize = 0;
/// A ring of completions waiting for JS. Never fuller than max_children: a child leaves the
/// table before its completion enters the ring, and add() checks both together.
var ring: []abi.Completion = &.{};
var ring_head: usize = 0;
var ring_len: usize = 0;
/// True from the moment a notify is sent until JS drains the ring: one wake per batch.
var notified: bool = false;
var notify: ?Notify = null;
var epoll_fd: i32 = -1;
/// Written by add() when the first pending launch arrives: the reaper may be asleep in
/// epoll_wait(-1) (nothing pending, nothing running that could end soon), and only a wake makes
/// it start the settle poll. Without it a long-lived child's stack and request were never freed:
/// 4,096 such children and the stack pool was dry. Registered with data 0, which no id is.
var wake_fd: i32 = -1;
const wake_data: u64 = 0;

pub fn init() i32 {
    // page_allocator: untouched pages cost nothing, and it works the same inside any runtime.
    const pages = std.heap.page_allocator;
    table = pages.alloc(Child, max_children) catch return sys.ENOMEM;
    free_slots = pages.alloc(u32, max_children) catch return sys.ENOMEM;
    pending = pages.alloc(u32, max_children) catch return sys.ENOMEM;
    ring = pages.alloc(abi.Completion, max_children) catch return sys.ENOMEM;
    for (table, 0..) |*c, i| {
        c.* = .{};
        free_slots[i] = @intCast(max_children - 1 - i);
    }
    free_count = max_children;
    const rc = linux.epoll_create1(linux.EPOLL.CLOEXEC);
    if (sys.errnoOf(rc) != 0) return sys.errnoOf(rc);
    epoll_fd = sys.asFd(rc);
    const efd = linux.eventfd(0, linux.EFD.CLOEXEC | linux.EFD.NONBLOCK);
    if (sys.errnoOf(efd) != 0) return sys.errnoOf(efd);
    wake_fd = sys.asFd(efd);
    var ev = linux.epoll_event{ .events = linux.EPOLL.IN, .data = .{ .u64 = wake_data } };
    const added = linux.epoll_ctl(epoll_fd, linux.EPOLL.CTL_ADD, wake_fd, &ev);
    if (sys.errnoOf(added) != 0) return sys.errnoOf(added);
    const thread = std.Thread.spawn(.{ .stack_size = 256 * 1024 }, loop, .{}) catch return sys.EAGAIN;
    thread.detach();
    return 0;
}

fn idOf(index: u32, c: *const Child) u32 {
    return (c.generation << index_bits) | index;
}

fn lookup(id: u32) ?*Child {
    const c = &table[id & (max_children - 1)];
    return if (c.live and idOf(id & (max_children - 1), c) == id) c else null;
}

/// Who hears of completions from now on (null: the listener polls drain). Replaces only a null
/// one: a callback belongs to the main thread, which is never replaced (exports.zig, listener).
pub fn setNotify(notify_fn: ?Notify) void {
    mutex.lock();
    defer mutex.unlock();
    std.debug.assert(notify == null);
    notify = notify_fn;
    // Whatever the last listener left queued is someone's to drain: wake the new one for it.
    notified = false;
}

/// Takes ownership of a started launch; returns the id JS uses for kill and completions, or
/// null when max_children are already running or waiting to be drained.
pub fn add(launch: *Launch) ?u32 {
    mutex.lock();
    defer mutex.unlock();
    const id = claim(launch.pid, launch.pidfd, launch) orelse return null;
    watch(launch.pidfd, id);
    std.debug.assert(pending_count < pending.len);
    pending[pending_count] = id;
    pending_count += 1;
    // The first pending launch: the reaper may sleep without a timeout; make it poll again.
    // (Later ones find it polling already.) An eventfd write fails only at a count of 2^64-2.
    if (pending_count == 1) std.debug.assert(sys.errnoOf(sys.write(wake_fd, std.mem.asBytes(&@as(u64, 1)))) == 0);
    return id;
}

/// For a launch that add() refused: kill it, reap it, free what it used.
pub fn abandon(launch: *Launch) void {
    _ = sys.pidfdSendSignal(launch.pidfd, 9);
    var info: sys.Siginfo = undefined;
    _ = sys.waitid(sys.P_PIDFD, launch.pidfd, &info, sys.WEXITED | sys.__WALL, null);
    sys.close(launch.pidfd);
    launch.release(); // reaped: the kernel cleared its exec word at exit
}

/// Takes a free slot for a child (the mutex held); null when the tables are full.
fn claim(pid: i32, pidfd: i32, launch: ?*Launch) ?u32 {
    if (free_count == 0 or ring_len + (max_children - free_count) >= max_children) return null;
    free_count -= 1;
    const index = free_slots[free_count];
    const c = &table[index];
    // Generation 0 is never used, so no id is 0.
    c.generation = (c.generation +% 1) & ((1 << (32 - index_bits)) - 1);
    if (c.generation == 0) c.generation = 1;
    c.* = .{ .pid = pid, .pidfd = pidfd, .launch = launch, .generation = c.generation, .live = true };
    return idOf(index, c);
}

/// Frees the child's slot and queues its completion for JS (the mutex held).
fn retire(id: u32, c: *Child, done: abi.Completion) void {
    std.debug.assert(c.live and free_count < free_slots.len);
    sys.close(c.pidfd);
    c.live = false;
    free_slots[free_count] = id & (max_children - 1);
    free_count += 1;
    std.debug.assert(ring_len < ring.len);
    ring[(ring_head + ring_len) % ring.len] = done;
    ring_len += 1;
}

fn watch(fd: i32, id: u32) void {
    var ev = linux.epoll_event{ .events = linux.EPOLL.IN, .data = .{ .u64 = id } };
    // Cannot fail for a fresh, valid fd on our own epoll short of ENOMEM; then we would never
    // hear of the child, so treat it as fatal rather than leak a zombie silently.
    const rc = linux.epoll_ctl(epoll_fd, linux.EPOLL.CTL_ADD, fd, &ev);
    if (sys.errnoOf(rc) != 0) std.debug.panic("forkless: epoll_ctl failed with errno {d}", .{sys.errnoOf(rc)});
}

/// Leaves the epoll set before the fd is closed. close() alone is not enough: a child that is
/// still between clone and exec holds copies of every fd we had when it was cloned (other
/// children's pidfds among them), so the file stays registered and, being ready,
/// would be reported again and again until that child execs: a busy loop.
fn unwatch(fd: i32) void {
    _ = linux.epoll_ctl(epoll_fd, linux.EPOLL.CTL_DEL, fd, null);
}

pub fn kill(id: u32, sig: i32) i32 {
    mutex.lock();
    defer mutex.unlock();
    const c = lookup(id) orelse return sys.ESRCH;
    return sys.errnoOf(sys.pidfdSendSignal(c.pidfd, sig));
}

/// Copies up to out.len completions, oldest first.
pub fn drain(out: []abi.Completion) usize {
    mutex.lock();
    defer mutex.unlock();
    const n = @min(out.len, ring_len);
    for (out[0..n]) |*o| {
        o.* = ring[ring_head];
        ring_head = (ring_head + 1) % ring.len;
    }
    ring_len -= n;
    if (ring_len == 0) notified = false;
    return n;
}

fn loop() void {
    var events: [64]linux.epoll_event = undefined;
    while (true) {
        // While some child has not exec'd yet, wake now and then to free its stack once it has:
        // nothing signals an exec (that is what saves a pipe and a wakeup per spawn).
        const timeout_ms: i32 = if (@atomicLoad(usize, &pending_count, .monotonic) > 0) settle_poll_ms else -1;
        const rc = linux.epoll_wait(epoll_fd, &events, events.len, timeout_ms);
        if (sys.errnoOf(rc) == sys.EINTR) continue;
        if (sys.errnoOf(rc) != 0) std.debug.panic("forkless: epoll_wait failed with errno {d}", .{sys.errnoOf(rc)});
        var wake = false;
        mutex.lock();
        for (events[0..rc]) |ev| {
            if (ev.data.u64 == wake_data) {
                var count: u64 = 0;
                _ = sys.read(wake_fd, std.mem.asBytes(&count)); // reset it; EAGAIN if read already
                continue;
            }
            const id: u32 = @intCast(ev.data.u64);
            const c = lookup(id) orelse continue;
            reap(id, c);
            wake = true;
        }
        settlePending();
        if (wake and !notified) {
            notified = true;
        } else wake = false;
        const f = notify;
        mutex.unlock();
        if (wake) if (f) |call| call();
    }
}

/// How often, at most, the reaper looks for children that exec'd while nothing else happens.
const settle_poll_ms = 20;

/// Frees the stack and request of every pending child that has exec'd or exited (the mutex
/// held), and forgets the ids of children reaped meanwhile.
fn settlePending() void {
    var i: usize = 0;
    while (i < pending_count) {
        const c = lookup(pending[i]);
        if (c) |child_entry| if (child_entry.launch) |l| if (!l.settled()) {
            i += 1;
            continue;
        };
        if (c) |child_entry| execSettled(child_entry);
        pending_count -= 1;
        pending[i] = pending[pending_count];
    }
}

/// The child exec'd or failed (its exec word is clear): it no longer touches its stack or
/// request, and a failure has left its report there.
fn execSettled(c: *Child) void {
    const l = c.launch orelse return;
    std.debug.assert(l.settled());
    c.stage = l.report.stage;
    c.errno = l.report.errno;
    l.release();
    c.launch = null;
}

/// The pidfd is readable: the child ended. Reap it and queue its completion.
fn reap(id: u32, c: *Child) void {
    execSettled(c); // it exited, so the kernel has cleared its exec word
    var info: sys.Siginfo = undefined;
    var usage: linux.rusage = undefined;
    const rc = sys.waitid(sys.P_PIDFD, c.pidfd, &info, sys.WEXITED | sys.__WALL, &usage);
    var done: abi.Completion = undefined;
    if (sys.errnoOf(rc) == 0) {
        done = completion(id, c.pid, &info, &usage);
        done.stage = c.stage;
        done.errno = c.errno;
    } else {
        // ECHILD: someone else in this process reaped it with waitpid(-1) (after exec the kernel
        // gives every child SIGCHLD as its exit signal, so such a wait can see ours). Its status
        // is gone; report that, rather than a made-up code.
        done = std.mem.zeroes(abi.Completion);
        done.id = id;
        done.pid = c.pid;
        done.exit_code = -1;
        done.stage = .reaped_elsewhere;
        done.errno = sys.errnoOf(rc);
    }
    unwatch(c.pidfd);
    retire(id, c, done);
}

pub fn completion(id: u32, pid: i32, info: *const sys.Siginfo, usage: *const linux.rusage) abi.Completion {
    const exited = info.code == sys.CLD_EXITED;
    return .{
        .id = id,
        .pid = pid,
        .exit_code = if (exited) info.status else -1,
        .signal = if (exited) 0 else info.status,
        .stage = .none,
        .errno = 0,
        .rusage = rusageOf(usage),
    };
}

fn rusageOf(u: *const linux.rusage) abi.Rusage {
    return .{
        .utime_sec = u.utime.sec,
        .utime_usec = u.utime.usec,
        .stime_sec = u.stime.sec,
        .stime_usec = u.stime.usec,
        .maxrss_kib = u.maxrss,
        .ixrss = u.ixrss,
        .idrss = u.idrss,
        .isrss = u.isrss,
        .minflt = u.minflt,
        .majflt = u.majflt,
        .nswap = u.nswap,
        .inblock = u.inblock,
        .oublock = u.oublock,
        .msgsnd = u.msgsnd,
        .msgrcv = u.msgrcv,
        .nsignals = u.nsignals,
        .nvcsw = u.nvcsw,
        .nivcsw = u.nivcsw,
    };
}

// ---------------------------------------------------------------------------------------------
// Children of another process (a container's helper): the helper launches and reaps them, so
// here the pidfd serves kill() only and the completion is posted by whoever hears of the end.

/// Registers a child we did not launch; returns its id, or null when the tables are full.
/// Takes ownership of `pidfd` (closed when the completion is posted).
pub fn addForeign(pid: i32, pidfd: i32) ?u32 {
    mutex.lock();
    defer mutex.unlock();
    return claim(pid, pidfd, null);
}

/// Queues the completion of a child registered with addForeign and wakes JS as the reaper does.
pub fn postForeign(id: u32, done: abi.Completion) void {
    var wake = false;
    mutex.lock();
    if (lookup(id)) |c| {
        var posted = done;
        posted.id = id;
        posted.pid = c.pid;
        retire(id, c, posted); // its pidfd served kill() only: never in our epoll set
        if (!notified) {
            notified = true;
            wake = true;
        }
    }
    const f = notify;
    mutex.unlock();
    if (wake) if (f) |call| call();
}
