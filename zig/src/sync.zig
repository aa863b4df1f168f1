//! spawnSync: launch with CLONE_VFORK (the calling thread blocks anyway), then gather stdout and
//! stderr with poll until both reach EOF and the child has ended, and reap it by pidfd. The
//! limits (timeout, maxBuffer) are enforced here, on this thread, so the kill cannot be skipped:
//! when a limit is hit the signal goes through the pidfd before anything else happens.
//! It leaves out stdin data (nothing to write: spawnSync's "pipe" stdin is /dev/null).
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const abi = @import("abi.zig");
const launch_mod = @import("launch.zig");
const reaper = @import("reaper.zig");

const allocator = std.heap.raw_c_allocator;

/// What may cut a spawnSync short. Zero means no limit.
pub const Limits = struct {
    timeout_ms: u64 = 0,
    /// Per stream, as Bun counts: more than this many bytes on stdout, or on stderr, ends the child.
    max_buffer_bytes: u64 = 0,
    /// Sent through the pidfd when a limit is hit.
    kill_signal: i32 = 15,
};

/// How the gathering ended.
pub const Ended = enum { drained, timed_out, max_buffer };

pub fn run(request: []const u8, parent_fds: []i32, out: *abi.SyncResult, base: ?*launch_mod.Template) void {
    runLimited(request, parent_fds, out, base, .{});
}

pub fn runLimited(request: []const u8, parent_fds: []i32, out: *abi.SyncResult, base: ?*launch_mod.Template, limits: Limits) void {
    out.* = std.mem.zeroes(abi.SyncResult);
    const deadline_ns = deadlineOf(limits);
    const launch = switch (launch_mod.start(request, parent_fds, true, base)) {
        .ok => |l| l,
        .failed => |f| {
            out.stage = f.stage;
            out.errno = f.errno;
            return;
        },
    };
    // CLONE_VFORK: the child has exec'd or died, so its exec word is clear and a failure has
    // left its report.
    std.debug.assert(launch.settled());
    const report = launch.report;
    const pid = launch.pid;
    const pidfd = launch.pidfd;
    launch.release();
    out.pid = pid;
    out.stage = report.stage;
    out.errno = report.errno;

    collect(pidfd, parent_fds, deadline_ns, limits, out);

    const reaped = reap(pidfd);
    sys.close(pidfd);
    closeExtraSlots(parent_fds);
    if (reaped) |e| {
        const done = reaper.completion(0, pid, &e.info, &e.usage);
        out.exit_code = done.exit_code;
        out.signal = done.signal;
        out.rusage = done.rusage;
    } else {
        // Its status is gone: neither code nor signal (what Bun's spawnSync reports then too).
        out.exit_code = -1;
        out.signal = 0;
    }
}

const Reaped = struct { info: sys.Siginfo, usage: linux.rusage };

/// Waits for the child's end and reaps it, or returns null when someone else did: with SIGCHLD
/// ignored the kernel reaps it at exit (autoreap), and a waitpid(-1) elsewhere in the process
/// can take it (after exec its exit signal is SIGCHLD). Either way waitid says ECHILD, and the
/// caller's program must go on, not abort.
fn reap(pidfd: i32) ?Reaped {
    var e: Reaped = undefined;
    while (true) {
        // Blocks until the child is gone; after a limit, as long as it takes the signal to act
        // (Bun waits the same way for a child that ignores it).
        const rc = sys.waitid(sys.P_PIDFD, pidfd, &e.info, sys.WEXITED | sys.__WALL, &e.usage);
        switch (sys.errnoOf(rc)) {
            0 => return e,
            sys.EINTR => continue,
            sys.ECHILD => return null,
            // EBADF/EINVAL: not our pidfd, or a bad call: the engine's own bug.
            else => |errno| std.debug.panic("forkless: waitid(P_PIDFD) failed with errno {d}", .{errno}),
        }
    }
}

/// The deadline counts from the launch, as the user's clock does, not from the first poll.
pub fn deadlineOf(limits: Limits) ?u64 {
    return if (limits.timeout_ms == 0) null else monotonicNs() +| limits.timeout_ms *| std.time.ns_per_ms;
}

/// Gathers stdout and stderr into malloc'd buffers in `out` (JS frees them), enforcing the
/// limits through `pidfd` (ours, or one a container's helper sent us). Only stdout and stderr
/// are gathered. A stdin pipe closes now so the child sees EOF; extra pipe slots stay open
/// until the child is reaped (closeExtraSlots), as in Bun: closing them early would kill a
/// child that writes there with SIGPIPE.
pub fn collect(pidfd: i32, parent_fds: []i32, deadline_ns: ?u64, limits: Limits, out: *abi.SyncResult) void {
    if (parent_fds[0] >= 0) {
        sys.close(parent_fds[0]);
        parent_fds[0] = -1;
    }
    var stdout: std.ArrayListUnmanaged(u8) = .{};
    var stderr: std.ArrayListUnmanaged(u8) = .{};
    const ended = gather(pidfd, parent_fds[1], parent_fds[2], &stdout, &stderr, deadline_ns, limits);
    out.timed_out = @intFromBool(ended == .timed_out);
    out.max_buffer_exceeded = @intFromBool(ended == .max_buffer);
    out.stdout_ptr = if (stdout.items.len == 0) 0 else @intFromPtr(stdout.items.ptr);
    out.stdout_len = stdout.items.len;
    out.stderr_ptr = if (stderr.items.len == 0) 0 else @intFromPtr(stderr.items.ptr);
    out.stderr_len = stderr.items.len;
    if (stdout.items.len == 0) stdout.deinit(allocator);
    if (stderr.items.len == 0) stderr.deinit(allocator);
}

pub fn closeExtraSlots(parent_fds: []i32) void {
    for (parent_fds[3..]) |*fd| if (fd.* >= 0) {
        sys.close(fd.*);
        fd.* = -1;
    };
}

fn monotonicNs() u64 {
    var ts: linux.timespec = undefined;
    const rc = linux.clock_gettime(.MONOTONIC, &ts);
    std.debug.assert(sys.errnoOf(rc) == 0);
    return @as(u64, @intCast(ts.sec)) * std.time.ns_per_s + @as(u64, @intCast(ts.nsec));
}

/// The poll timeout until `deadline_ns`: -1 without one, else whole ms rounded up (so poll never
/// wakes early and spins), at most what poll takes. 0 once the deadline has passed.
fn pollTimeoutMs(deadline_ns: ?u64) i32 {
    const deadline = deadline_ns orelse return -1;
    const now = monotonicNs();
    if (now >= deadline) return 0;
    const ms = (deadline - now + std.time.ns_per_ms - 1) / std.time.ns_per_ms;
    return @intCast(@min(ms, std.math.maxInt(i32)));
}

/// Reads both pipes (closing each at EOF) until both are done and the pidfd says the child
/// ended, or until a limit is hit: then the kill signal goes through the pidfd and only after it
/// are both pipes closed, unread data and all, as Bun does. Signal first: a child killed by a
/// default-action signal has its exit status fixed when the signal is sent, so it cannot die of
/// the EPIPE (SIGPIPE) that closing the pipes under a writer would cause.
fn gather(
    pidfd: i32,
    out_fd: i32,
    err_fd: i32,
    stdout: *std.ArrayListUnmanaged(u8),
    stderr: *std.ArrayListUnmanaged(u8),
    deadline_ns: ?u64,
    limits: Limits,
) Ended {
    var fds = [3]linux.pollfd{
        .{ .fd = out_fd, .events = linux.POLL.IN, .revents = 0 },
        .{ .fd = err_fd, .events = linux.POLL.IN, .revents = 0 },
        .{ .fd = pidfd, .events = linux.POLL.IN, .revents = 0 },
    };
    const sinks = [2]*std.ArrayListUnmanaged(u8){ stdout, stderr };
    const ended: Ended = loop: while (fds[0].fd >= 0 or fds[1].fd >= 0 or fds[2].fd >= 0) {
        // Checked before every poll, not only when poll times out: a child that writes without
        // pause keeps poll returning at once and would otherwise never time out.
        const wait_ms = pollTimeoutMs(deadline_ns);
        if (wait_ms == 0) break :loop .timed_out;
        const rc = linux.poll(&fds, fds.len, wait_ms);
        if (sys.errnoOf(rc) == sys.EINTR) continue;
        std.debug.assert(sys.errnoOf(rc) == 0);
        for (fds[0..2], sinks) |*p, sink| {
            if (p.fd < 0 or p.revents == 0) continue;
            switch (drainInto(p.fd, sink, limits.max_buffer_bytes)) {
                .open => {},
                .eof => {
                    sys.close(p.fd);
                    p.fd = -1;
                },
                .over => break :loop .max_buffer,
            }
        }
        // Negative fds are skipped by poll; the pidfd only needs to fire once.
        if (fds[2].fd >= 0 and fds[2].revents != 0) fds[2].fd = -1;
    } else .drained;
    // Our own unreaped child: the pidfd cannot name another process, and a child that ended on
    // its own meanwhile is a zombie that takes the signal without effect. A limit is reported
    // only once the kernel accepted the signal: a flag without a kill cannot happen.
    const reported: Ended = if (ended == .drained or sys.errnoOf(sys.pidfdSendSignal(pidfd, limits.kill_signal)) != 0) .drained else ended;
    for (fds[0..2]) |p| if (p.fd >= 0) sys.close(p.fd);
    return reported;
}

const Drained = enum { open, eof, over };

/// Bytes read from one stream per wakeup before poll is asked again (and the deadline checked).
const drain_max_bytes = 1024 * 1024;
const read_chunk_bytes = 64 * 1024;

/// Reads what is there, up to a bound. With a limit, never more than `limit + 1` bytes in all:
/// the byte that breaks the limit is kept, nothing after it, so the output is the same however
/// the child's writes were split.
fn drainInto(fd: i32, sink: *std.ArrayListUnmanaged(u8), limit: u64) Drained {
    var budget: usize = drain_max_bytes;
    while (budget > 0) {
        // An allocation failure ends the stream as EOF would: the child gets EPIPE, we keep going.
        sink.ensureUnusedCapacity(allocator, read_chunk_bytes) catch return .eof;
        var room = sink.allocatedSlice()[sink.items.len..];
        if (limit != 0) room = room[0..@min(room.len, limit +| 1 - sink.items.len)];
        const n = sys.read(fd, room);
        const err = sys.errnoOf(n);
        if (err == sys.EAGAIN) return .open;
        if (err == sys.EINTR) continue;
        if (err != 0 or n == 0) return .eof;
        sink.items.len += n;
        budget -|= n;
        if (limit != 0 and sink.items.len > limit) return .over;
    }
    return .open;
}

// ---------------------------------------------------------------------------------------------
// Tests: real children, launched without Bun.

const testing = std.testing;

fn syncRequest(script: []const u8) !std.ArrayListUnmanaged(u8) {
    var bytes: std.ArrayListUnmanaged(u8) = .{};
    const header = abi.RequestHeader{ .abi = abi.version, .flags = 0, .slot_count = 3, .argc = 3, .envc = 0 };
    try bytes.appendSlice(testing.allocator, std.mem.asBytes(&header));
    const slots = [3]abi.Slot{ .{ .kind = .ignore, .fd = -1 }, .{ .kind = .pipe, .fd = -1 }, .{ .kind = .pipe, .fd = -1 } };
    try bytes.appendSlice(testing.allocator, std.mem.sliceAsBytes(&slots));
    for ([_][]const u8{ "/bin/sh", "sh", "-c", script }) |s| {
        try bytes.appendSlice(testing.allocator, s);
        try bytes.append(testing.allocator, 0);
    }
    return bytes;
}

const Limited = struct {
    r: abi.SyncResult,
    fn out(self: *const Limited) []const u8 {
        return if (self.r.stdout_ptr == 0) "" else @as([*]const u8, @ptrFromInt(self.r.stdout_ptr))[0..self.r.stdout_len];
    }
    fn deinit(self: *Limited) void {
        if (self.r.stdout_ptr != 0) std.c.free(@ptrFromInt(self.r.stdout_ptr));
        if (self.r.stderr_ptr != 0) std.c.free(@ptrFromInt(self.r.stderr_ptr));
    }
};

fn runScript(script: []const u8, limits: Limits) !Limited {
    // spawnSync needs only the engine's /dev/null (no reaper thread).
    if (launch_mod.devnull_fd < 0) try testing.expectEqual(@as(i32, 0), launch_mod.init());
    var req = try syncRequest(script);
    defer req.deinit(testing.allocator);
    var fds: [3]i32 = undefined;
    var result: abi.SyncResult = undefined;
    runLimited(req.items, &fds, &result, null, limits);
    try testing.expectEqual(abi.Stage.none, result.stage);
    return .{ .r = result };
}

test "sync limits: a timeout kills with the kill signal and keeps what came before" {
    // The shell may not have reached its echo when a short timeout fires (a loaded machine):
    // each run must time out and keep a prefix of "before\n"; the timeout doubles, bounded,
    // until one run has kept all of it.
    var timeout_ms: u32 = 100;
    while (true) : (timeout_ms *= 2) {
        var x = try runScript("echo before; exec sleep 30", .{ .timeout_ms = timeout_ms, .kill_signal = 9 });
        defer x.deinit();
        try testing.expectEqual(@as(u32, 1), x.r.timed_out);
        try testing.expectEqual(@as(u32, 0), x.r.max_buffer_exceeded);
        try testing.expectEqual(@as(i32, 9), x.r.signal);
        try testing.expect(std.mem.startsWith(u8, "before\n", x.out()));
        if (x.out().len == "before\n".len) break;
        try testing.expect(timeout_ms < 10_000);
    }
}

test "sync limits: a child that never stops writing still times out" {
    var x = try runScript("exec yes", .{ .timeout_ms = 100 });
    defer x.deinit();
    try testing.expectEqual(@as(u32, 1), x.r.timed_out);
    try testing.expectEqual(@as(i32, 15), x.r.signal);
}

test "sync limits: maxBuffer keeps limit + 1 bytes, kills, and counts each stream apart" {
    var x = try runScript("head -c 100000 /dev/zero; exec sleep 30", .{ .max_buffer_bytes = 100 });
    defer x.deinit();
    try testing.expectEqual(@as(u32, 1), x.r.max_buffer_exceeded);
    try testing.expectEqual(@as(i32, 15), x.r.signal);
    try testing.expectEqual(@as(usize, 101), x.out().len);
    var y = try runScript("printf 123; printf 456 >&2", .{ .max_buffer_bytes = 5 });
    defer y.deinit();
    try testing.expectEqual(@as(u32, 0), y.r.max_buffer_exceeded);
    try testing.expectEqual(@as(i32, 0), y.r.exit_code);
    var z = try runScript("printf 12345", .{ .max_buffer_bytes = 5, .timeout_ms = 60_000 });
    defer z.deinit();
    try testing.expectEqual(@as(u32, 0), z.r.max_buffer_exceeded);
    try testing.expectEqual(@as(u32, 0), z.r.timed_out);
    try testing.expectEqualStrings("12345", z.out());
}
