//! spawnSync: launch with CLONE_VFORK (the calling thread blocks anyway), then gather stdout and
//! stderr with poll until both reach EOF and the child has ended, and reap it by pidfd.
//! It leaves out stdin data and limits (maxBuffer, timeout): those belong to the option layer.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const abi = @import("abi.zig");
const launch_mod = @import("launch.zig");
const reaper = @import("reaper.zig");

const allocator = std.heap.raw_c_allocator;

pub fn run(request: []const u8, parent_fds: []i32, out: *abi.SyncResult, base: ?*launch_mod.Template) void {
    out.* = std.mem.zeroes(abi.SyncResult);
    const launch = switch (launch_mod.start(request, parent_fds, true, base)) {
        .ok => |l| l,
        .failed => |f| {
            out.stage = f.stage;
            out.errno = f.errno;
            return;
        },
    };
    // CLONE_VFORK: the child has exec'd or died, so the error pipe is at EOF or holds a report.
    const report = reaper.readReport(launch.err_fd);
    sys.close(launch.err_fd);
    const pid = launch.pid;
    const pidfd = launch.pidfd;
    launch.release();
    out.pid = pid;
    out.stage = report.stage;
    out.errno = report.errno;

    // Only stdout and stderr are gathered; any other pipe end is closed so the child sees EOF.
    for (parent_fds, 0..) |*fd, i| if (fd.* >= 0 and i != 1 and i != 2) {
        sys.close(fd.*);
        fd.* = -1;
    };
    var stdout: std.ArrayListUnmanaged(u8) = .{};
    var stderr: std.ArrayListUnmanaged(u8) = .{};
    gather(pidfd, parent_fds[1], parent_fds[2], &stdout, &stderr);

    var info: sys.Siginfo = undefined;
    var usage: linux.rusage = undefined;
    const rc = sys.waitid(sys.P_PIDFD, pidfd, &info, sys.WEXITED | sys.__WALL, &usage);
    std.debug.assert(sys.errnoOf(rc) == 0);
    sys.close(pidfd);
    const done = reaper.completion(0, pid, &info, &usage);
    out.exit_code = done.exit_code;
    out.signal = done.signal;
    out.rusage = done.rusage;
    out.stdout_ptr = @intFromPtr(stdout.items.ptr);
    out.stdout_len = stdout.items.len;
    out.stderr_ptr = @intFromPtr(stderr.items.ptr);
    out.stderr_len = stderr.items.len;
    if (stdout.items.len == 0) {
        stdout.deinit(allocator);
        out.stdout_ptr = 0;
    }
    if (stderr.items.len == 0) {
        stderr.deinit(allocator);
        out.stderr_ptr = 0;
    }
}

/// Reads both pipes (closing each at EOF) until both are done and the pidfd says the child ended.
fn gather(pidfd: i32, out_fd: i32, err_fd: i32, stdout: *std.ArrayListUnmanaged(u8), stderr: *std.ArrayListUnmanaged(u8)) void {
    var fds = [3]linux.pollfd{
        .{ .fd = out_fd, .events = linux.POLL.IN, .revents = 0 },
        .{ .fd = err_fd, .events = linux.POLL.IN, .revents = 0 },
        .{ .fd = pidfd, .events = linux.POLL.IN, .revents = 0 },
    };
    const sinks = [2]*std.ArrayListUnmanaged(u8){ stdout, stderr };
    while (fds[0].fd >= 0 or fds[1].fd >= 0 or fds[2].fd >= 0) {
        const rc = linux.poll(&fds, fds.len, -1);
        if (sys.errnoOf(rc) == sys.EINTR) continue;
        std.debug.assert(sys.errnoOf(rc) == 0);
        for (fds[0..2], sinks) |*p, sink| {
            if (p.fd < 0 or p.revents == 0) continue;
            if (drainInto(p.fd, sink)) {
                sys.close(p.fd);
                p.fd = -1;
            }
        }
        // Negative fds are skipped by poll; the pidfd only needs to fire once.
        if (fds[2].fd >= 0 and fds[2].revents != 0) fds[2].fd = -1;
    }
}

/// Reads what is there; true at EOF (or an error, which ends the stream the same way).
fn drainInto(fd: i32, sink: *std.ArrayListUnmanaged(u8)) bool {
    while (true) {
        sink.ensureUnusedCapacity(allocator, 64 * 1024) catch return true;
        const room = sink.allocatedSlice()[sink.items.len..];
        const n = sys.read(fd, room);
        const err = sys.errnoOf(n);
        if (err == sys.EAGAIN) return false;
        if (err == sys.EINTR) continue;
        if (err != 0 or n == 0) return true;
        sink.items.len += n;
    }
}
