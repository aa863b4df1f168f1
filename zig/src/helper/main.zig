//! forkless-helper: the container's nominal parent. It starts with one fd (its end of a
//! SOCK_SEQPACKET socketpair, at fd 3), launches what the main process asks through the engine's
//! own launch path, reports each child's pid, pidfd, exit status and rusage, adopts and reaps
//! every orphan of the tree, and ends the whole tree when the main process goes away.
//! Single-threaded on purpose: the children's PR_SET_PDEATHSIG belongs to the launching thread.
const std = @import("std");
const linux = std.os.linux;
const engine = @import("engine");
const tree = @import("tree.zig");
const abi = engine.abi;
const sys = engine.sys;
const launch = engine.launch;
const reaper = engine.reaper;
const protocol = engine.protocol;

const allocator = std.heap.raw_c_allocator;
/// Our end of the socketpair; a var only so that tests can hand us a socketpair of their own.
var sock: i32 = protocol.helper_socket_fd;
const EPIPE = 32;
const ECONNRESET = 104;
const ENOBUFS = 105;
const EMFILE = 24;
const E2BIG = 7;

/// The bound on children launched and not yet reaped; a spawn beyond it is refused with EAGAIN.
const max_children = 4096;
const default_grace_ms = 2000;

const Child = struct {
    live: bool = false,
    tag: u32 = 0,
    pid: i32 = -1,
    pidfd: i32 = -1,
    /// Until its exec word clears: the launch (stack, request copy) the child may still use.
    pending: ?*launch.Launch = null,
    stage: abi.Stage = .none,
    errno: i32 = 0,
    /// Bumped at each launch in this slot: an epoll event of an earlier occupant is stale.
    generation: u32 = 0,
};

var children: [max_children]Child = [_]Child{.{}} ** max_children;
var child_count: usize = 0;
/// One past the highest slot ever used: scans stop here, so untouched pages stay untouched.
var high_water: usize = 0;
var epoll_fd: i32 = -1;
var signal_fd: i32 = -1;
var grace_ms: i64 = default_grace_ms;
var stopping = false;
/// False once the main process is gone: nothing more is sent.
var connected = true;
var frame: []align(8) u8 = &.{};

/// What an epoll event is about: the low two bits, then the child index, then its generation.
const Source = enum(u2) { socket = 0, signals = 1, unused = 2, pidfd = 3 };

fn eventData(source: Source, index: usize) u64 {
    return (@as(u64, children[index].generation) << 32) | (@as(u64, index) << 2) | @intFromEnum(source);
}

/// The child an event is about, unless the event is stale (that child was reaped already).
fn childOf(data: u64) ?*Child {
    const c = &children[@intCast((data & 0xffff_ffff) >> 2)];
    return if (c.live and c.generation == @as(u32, @intCast(data >> 32))) c else null;
}

pub fn main() u8 {
    grace_ms = argInt(1) orelse default_grace_ms;
    const parent: i32 = @intCast(argInt(2) orelse 0);
    setup(parent) catch return 1;
    while (!stopping) serveOnce(-1);
    endTree();
    return 0;
}

fn argInt(i: usize) ?i64 {
    if (std.os.argv.len <= i) return null;
    return std.fmt.parseInt(i64, std.mem.sliceTo(std.os.argv[i], 0), 10) catch null;
}

fn setup(parent: i32) !void {
    // Nothing we open may reach a child: the socket first (it came in without O_CLOEXEC).
    _ = sys.setCloexec(sock, true);
    // Fds 0-2 arrive closed. Fill them with /dev/null so that nothing we open later lands
    // there and a stray write to "stderr" (a panic message) cannot reach the socket or a pidfd.
    while (true) {
        const rc = sys.openat(sys.AT_FDCWD, "/dev/null", sys.O_RDWR | sys.O_CLOEXEC);
        if (sys.errnoOf(rc) != 0) break;
        if (sys.asFd(rc) > 2) {
            sys.close(sys.asFd(rc));
            break;
        }
    }
    _ = linux.prctl(@intFromEnum(linux.PR.SET_CHILD_SUBREAPER), 1, 0, 0, 0);
    raiseNofile();
    // Terminal signals hit the whole process group, ours included: the main process decides
    // what they mean, so we ignore them. SIGTERM (also our parent-death signal) ends the tree.
    const ign = sys.KernelSigaction{ .handler = 1, .flags = 0, .restorer = 0, .mask = 0 };
    for ([_]usize{ 1, 2, 3, 13 }) |sig| _ = sys.rtSigaction(sig, &ign, null);
    const watched: u64 = sigBit(linux.SIG.CHLD) | sigBit(linux.SIG.TERM);
    _ = sys.sigprocmask(0, &watched, null); // SIG_BLOCK
    const sfd = linux.syscall4(.signalfd4, @bitCast(@as(isize, -1)), @intFromPtr(&watched), 8, linux.SFD.CLOEXEC | linux.SFD.NONBLOCK);
    if (sys.errnoOf(sfd) != 0) return error.Setup;
    signal_fd = sys.asFd(sfd);
    // Second line of defence after the socket's EOF. Set before the check, so a parent that
    // died in between is seen by getppid. It fires when the *thread* that cloned us exits: the
    // main process clones us on its launcher thread (container.zig asks for a death signal, so
    // launch.zig hands the clone there), which lives as long as the process. The main side armed
    // the same signal before our exec; setting it again is idempotent, and keeps it armed if we
    // were started some other way.
    _ = linux.prctl(@intFromEnum(linux.PR.SET_PDEATHSIG), linux.SIG.TERM, 0, 0, 0);
    if (parent != 0 and linux.getppid() != parent) stopping = true;
    if (launch.init() != 0) return error.Setup;
    const ep = linux.epoll_create1(linux.EPOLL.CLOEXEC);
    if (sys.errnoOf(ep) != 0) return error.Setup;
    epoll_fd = sys.asFd(ep);
    if (watch(sock, eventData(.socket, 0)) != null) return error.Setup;
    if (watch(signal_fd, eventData(.signals, 0)) != null) return error.Setup;
    // Inline frames are at most this big; a larger request comes in a memfd (readBody).
    frame = try allocator.alignedAlloc(u8, .@"8", protocol.max_inline_bytes);
}

/// We hold one pidfd per child (up to max_children) plus each request's fds while it is
/// launched: the select()-safe 1024 the engine gives every child, us included, is far too few.
/// Our children do not inherit this: the child setup brings a soft limit above 1024 back down
/// unless asked to keep it, exactly as for a direct spawn, whose parent (Bun) runs at its hard
/// limit too. A failure leaves us at 1024: we then refuse with EMFILE, as any process would.
fn raiseNofile() void {
    var limit: sys.Rlimit64 = undefined;
    if (sys.errnoOf(sys.prlimit(sys.RLIMIT_NOFILE, null, &limit)) != 0) return;
    if (limit.cur >= limit.max) return;
    limit.cur = limit.max;
    _ = sys.prlimit(sys.RLIMIT_NOFILE, &limit, null);
}

fn sigBit(sig: u32) u64 {
    return @as(u64, 1) << @intCast(sig - 1);
}

/// Null, or the errno of epoll_ctl.
fn watch(fd: i32, data: u64) ?i32 {
    var ev = linux.epoll_event{ .events = linux.EPOLL.IN, .data = .{ .u64 = data } };
    const errno = sys.errnoOf(linux.epoll_ctl(epoll_fd, linux.EPOLL.CTL_ADD, fd, &ev));
    return if (errno == 0) null else errno;
}

/// Waits up to `timeout_ms` (-1: forever) and handles what arrived.
fn serveOnce(timeout_ms: i32) void {
    var events: [64]linux.epoll_event = undefined;
    // Nothing signals an exec: while a launch is held, look again every few ms to free it.
    const wait_ms = if (pending_count > 0 and (timeout_ms < 0 or timeout_ms > settle_poll_ms)) settle_poll_ms else timeout_ms;
    const rc = linux.epoll_wait(epoll_fd, &events, events.len, wait_ms);
    if (sys.errnoOf(rc) == sys.EINTR) return;
    if (sys.errnoOf(rc) != 0) std.process.exit(2);
    for (events[0..rc]) |ev| {
        switch (@as(Source, @enumFromInt(ev.data.u64 & 3))) {
            .socket => receive(),
            .signals => onSignals(),
            .pidfd => if (childOf(ev.data.u64)) |c| reap(c),
            .unused => unreachable,
        }
    }
    if (pending_count > 0) for (children[0..high_water]) |*c| if (c.live) settle(c);
}

/// How often, at most, launches not yet known to have exec'd are looked at.
const settle_poll_ms = 20;
/// Children whose launch (stack, request) is still held.
var pending_count: usize = 0;

// ---------------------------------------------------------------------------------------------
// Requests

fn receive() void {
    var iov: [1]std.posix.iovec = .{.{ .base = frame.ptr, .len = frame.len }};
    var control: protocol.CmsgBuffer = undefined;
    var msg = linux.msghdr{ .name = null, .namelen = 0, .iov = &iov, .iovlen = 1, .control = &control, .controllen = @sizeOf(protocol.CmsgBuffer), .flags = 0 };
    const n = linux.recvmsg(sock, &msg, linux.MSG.CMSG_CLOEXEC);
    if (sys.errnoOf(n) == sys.EINTR) return;
    if (sys.errnoOf(n) != 0 or n == 0) return lostMain();
    const fds = control.received(msg.controllen);
    defer for (fds) |fd| sys.close(fd);
    if (n < @sizeOf(protocol.Control)) return;
    const kind = std.mem.bytesToValue(protocol.Kind, frame[0..4]);
    if (kind == .spawn) return spawn(frame[0..n], fds, msg.flags);
    const control_frame = std.mem.bytesToValue(protocol.Control, frame[0..@sizeOf(protocol.Control)]);
    switch (kind) {
        .kill_all => tree.signalAll(control_frame.arg),
        .shutdown => {
            grace_ms = @max(0, control_frame.arg);
            stopping = true;
        },
        // Reported as usual once reaped: that Exited frees the tag on the main side.
        .kill_launch => if (byTag(control_frame.arg)) |c| {
            _ = sys.pidfdSendSignal(c.pidfd, sys.SIGKILL);
        },
        else => {},
    }
}

fn byTag(tag: i32) ?*Child {
    for (children[0..high_water]) |*c| if (c.live and c.tag == tag) return c;
    return null;
}

/// Launches one request through the engine's own path. The shipped fds are closed by the caller
/// right after: the child holds its own copies from clone on. Every request is answered with
/// exactly one Spawned frame; only a child that main was told of is reported Exited later.
fn spawn(bytes: []u8, fds: []const i32, flags: u32) void {
    if (bytes.len < @sizeOf(protocol.SpawnFrame)) return;
    const head = std.mem.bytesToValue(protocol.SpawnFrame, bytes[0..@sizeOf(protocol.SpawnFrame)]);
    // MSG_CTRUNC: some of the fds could not be installed here (our fd limit); MSG_TRUNC: the
    // frame did not fit our buffer (main sends larger requests in a memfd, so a bug).
    if (flags & linux.MSG.CTRUNC != 0) return failed(head.tag, .resource, EMFILE);
    if (flags & linux.MSG.TRUNC != 0) return failed(head.tag, .resource, E2BIG);
    const body_in_fd = head.flags & protocol.SpawnFrame.body_in_fd != 0;
    const extra: usize = if (body_in_fd) 2 else 1; // the cwd, and the body's memfd
    if (fds.len != head.fd_count or fds.len < extra) return failed(head.tag, .resource, sys.EINVAL);
    const request = if (body_in_fd) switch (readBody(fds[fds.len - 1])) {
        .ok => |r| r,
        .failed => |errno| return failed(head.tag, .resource, errno),
    } else bytes[@sizeOf(protocol.SpawnFrame)..];
    const slot_count = rewriteRequest(request, fds[0 .. fds.len - extra]) orelse return failed(head.tag, .resource, sys.EINVAL);
    if (child_count == max_children) return failed(head.tag, .resource, sys.EAGAIN);
    // Relative paths (cwd, file) mean the main process's cwd, which it sends with every request.
    // We are single-threaded, so changing our own cwd races with nothing.
    const cd = sys.errnoOf(sys.fchdir(fds[fds.len - extra]));
    if (cd != 0) return failed(head.tag, .cwd, cd);
    var parent_fds: [abi.max_slots]i32 = undefined;
    switch (launch.start(request, parent_fds[0..slot_count], false, null)) {
        .failed => |f| failed(head.tag, f.stage, f.errno),
        .ok => |l| adopt(head.tag, l),
    }
}

fn failed(tag: u32, stage: abi.Stage, errno: i32) void {
    const rc = send(std.mem.asBytes(&protocol.Spawned{ .tag = tag, .pid = -1, .stage = stage, .errno = errno }), null);
    // Main waits for this frame; a session that cannot carry it is of no use to either side.
    if (rc != 0) lostMain();
}

/// Watches a launched child and tells main of it, then (only then) counts it as ours. A child
/// main cannot hear of is taken back at once (killed, reaped, its launch released) and the
/// launch reported failed: main would otherwise wait for a reply that never comes, or get an
/// Exited for a tag it has already freed.
fn adopt(tag: u32, l: *launch.Launch) void {
    const index = freeIndex();
    const generation = children[index].generation +% 1;
    children[index].generation = generation;
    if (watch(l.pidfd, eventData(.pidfd, index))) |errno| {
        reaper.abandon(l);
        return failed(tag, .resource, errno);
    }
    const rc = reply(.{ .tag = tag, .pid = l.pid, .stage = .none, .errno = 0 }, l.pidfd);
    if (rc != 0) {
        _ = linux.epoll_ctl(epoll_fd, linux.EPOLL.CTL_DEL, l.pidfd, null);
        reaper.abandon(l);
        // Gone: nothing to tell. Else (ETOOMANYREFS: too many fds in flight for this user) the
        // pidfd cannot travel, but a frame without it can.
        if (connected) failed(tag, .resource, rc);
        return;
    }
    std.debug.assert(index < max_children and child_count < max_children);
    children[index] = .{ .live = true, .tag = tag, .pid = l.pid, .pidfd = l.pidfd, .pending = l, .generation = generation };
    high_water = @max(high_water, index + 1);
    child_count += 1;
    pending_count += 1;
}

/// Reads a request main sent in a memfd into our frame buffer (grown to fit, up to the bound).
fn readBody(fd: i32) union(enum) { ok: []u8, failed: i32 } {
    var st: linux.Stat = undefined;
    const rc = linux.fstat(fd, &st);
    if (sys.errnoOf(rc) != 0) return .{ .failed = sys.errnoOf(rc) };
    const len: usize = @intCast(@max(st.size, 0));
    if (len > protocol.max_request_bytes) return .{ .failed = E2BIG };
    if (len > frame.len) {
        const bigger = allocator.alignedAlloc(u8, .@"8", len) catch return .{ .failed = sys.ENOMEM };
        allocator.free(frame);
        frame = bigger;
    }
    var done: usize = 0;
    while (done < len) {
        const n = linux.pread(fd, frame[done..].ptr, len - done, @intCast(done));
        if (sys.errnoOf(n) == sys.EINTR) continue;
        if (sys.errnoOf(n) != 0) return .{ .failed = sys.errnoOf(n) };
        if (n == 0) return .{ .failed = sys.EINVAL }; // main wrote it whole before sending
        done += n;
    }
    return .{ .ok = frame[0..len] };
}

/// Makes the main process's request ours: every shipped slot becomes an `.fd` slot naming the
/// fd we received for it (the cgroup fd, when flagged, came next), and a child without a death
/// signal of its own gets SIGKILL, so that it dies with us (we are single-threaded: the
/// launching thread is the whole helper). Returns the slot count, or null for a request whose
/// slots and fds do not match (a bug in the main process).
fn rewriteRequest(request: []u8, shipped: []const i32) ?usize {
    if (request.len < @sizeOf(abi.RequestHeader)) return null;
    var header = std.mem.bytesToValue(abi.RequestHeader, request[0..@sizeOf(abi.RequestHeader)]);
    if (header.slot_count < 3 or header.slot_count > abi.max_slots) return null;
    if (request.len < @sizeOf(abi.RequestHeader) + header.slot_count * @sizeOf(abi.Slot)) return null;
    var next: usize = 0;
    for (0..header.slot_count) |i| {
        const at = @sizeOf(abi.RequestHeader) + i * @sizeOf(abi.Slot);
        var slot = std.mem.bytesToValue(abi.Slot, request[at..][0..@sizeOf(abi.Slot)]);
        if (!protocol.isShipped(slot.kind)) continue;
        if (next == shipped.len) return null;
        slot = .{ .kind = .fd, .fd = shipped[next] };
        next += 1;
        @memcpy(request[at..][0..@sizeOf(abi.Slot)], std.mem.asBytes(&slot));
    }
    if (header.flags & abi.flag_cgroup_fd != 0) {
        if (next == shipped.len) return null;
        header.cgroup_fd = shipped[next];
        next += 1;
    }
    if (header.death_signal == 0) header.death_signal = linux.SIG.KILL;
    @memcpy(request[0..@sizeOf(abi.RequestHeader)], std.mem.asBytes(&header));
    return if (next == shipped.len) header.slot_count else null;
}

fn freeIndex() usize {
    for (children[0..], 0..) |*c, i| if (!c.live) return i;
    unreachable; // child_count < max_children was checked
}

fn reply(spawned: protocol.Spawned, pidfd: i32) i32 {
    var control: protocol.CmsgBuffer = undefined;
    control.header = .{ .len = protocol.CmsgBuffer.lenFor(1), .level = protocol.SOL_SOCKET, .type = protocol.SCM_RIGHTS };
    control.fds[0] = pidfd;
    return send(std.mem.asBytes(&spawned), if (pidfd >= 0) &control else null);
}

/// How often a send that failed for want of kernel memory is tried again, 10 ms apart.
const send_retry_max = 100;

/// Sends one frame to main; 0 or the errno. Only EPIPE and ECONNRESET mean main is gone (we
/// stop). ENOBUFS/ENOMEM are a passing shortage: tried again, a bounded number of times. The
/// rest is the caller's: ETOOMANYREFS refuses the fd a frame carries, not the frame.
fn send(bytes: []const u8, control: ?*const protocol.CmsgBuffer) i32 {
    if (!connected) return EPIPE;
    var iov: [1]std.posix.iovec_const = .{.{ .base = bytes.ptr, .len = bytes.len }};
    const msg = linux.msghdr_const{
        .name = null,
        .namelen = 0,
        .iov = &iov,
        .iovlen = 1,
        .control = control,
        .controllen = if (control != null) protocol.CmsgBuffer.spaceFor(1) else 0,
        .flags = 0,
    };
    var retries: usize = 0;
    while (true) {
        const errno = sys.errnoOf(linux.sendmsg(sock, &msg, linux.MSG.NOSIGNAL));
        switch (errno) {
            sys.EINTR => continue,
            EPIPE, ECONNRESET => {
                lostMain();
                return errno;
            },
            ENOBUFS, sys.ENOMEM => if (retries < send_retry_max) {
                retries += 1;
                std.Thread.sleep(10 * std.time.ns_per_ms);
                continue;
            },
            else => {},
        }
        return errno;
    }
}

/// The main process is gone (or closed the container): stop serving and end the tree.
fn lostMain() void {
    connected = false;
    stopping = true;
    _ = linux.epoll_ctl(epoll_fd, linux.EPOLL.CTL_DEL, sock, null);
}

// ---------------------------------------------------------------------------------------------
// Children

/// The child exec'd or failed (the kernel cleared its exec word): its stack is free again, and
/// a failure has left its report in the launch.
fn settle(c: *Child) void {
    const l = c.pending orelse return;
    if (!l.settled()) return;
    c.stage = l.report.stage;
    c.errno = l.report.errno;
    l.release();
    c.pending = null;
    pending_count -= 1;
}

/// One of our launched children ended: reap exactly it and report.
fn reap(c: *Child) void {
    settle(c);
    var info: sys.Siginfo = undefined;
    var usage: linux.rusage = undefined;
    const rc = sys.waitid(sys.P_PIDFD, c.pidfd, &info, sys.WEXITED | sys.__WALL, &usage);
    if (sys.errnoOf(rc) == 0) {
        var done = reaper.completion(0, c.pid, &info, &usage);
        done.stage = c.stage;
        done.errno = c.errno;
        // Main would never hear of this end: the session is of no use any more.
        if (send(std.mem.asBytes(&protocol.Exited{ .tag = c.tag, .completion = done }), null) != 0) lostMain();
    }
    // The main process holds a copy of this pidfd, so closing ours would not drop it from the
    // epoll set (registrations belong to the open file): remove it explicitly first.
    _ = linux.epoll_ctl(epoll_fd, linux.EPOLL.CTL_DEL, c.pidfd, null);
    sys.close(c.pidfd);
    c.* = .{ .generation = c.generation };
    child_count -= 1;
}

fn onSignals() void {
    var info: linux.signalfd_siginfo = undefined;
    while (true) {
        const n = sys.read(signal_fd, std.mem.asBytes(&info));
        if (sys.errnoOf(n) != 0 or n != @sizeOf(linux.signalfd_siginfo)) break;
        if (info.signo == linux.SIG.TERM) stopping = true;
    }
    reapOrphans();
}

/// Reaps every child that has ended: ours through reap() (which reports it), adopted orphans
/// of the tree directly. Both kinds signal SIGCHLD (exec resets a clone child's exit signal to
/// SIGCHLD), so a waitid(P_ALL) would steal ours: peek with WNOWAIT, then reap by kind.
fn reapOrphans() void {
    const WNOWAIT = 0x01000000;
    var info: sys.Siginfo = undefined;
    while (true) {
        info.pid = 0;
        const rc = sys.waitid(0, 0, &info, sys.WEXITED | sys.WNOHANG | WNOWAIT | sys.__WALL, null);
        if (sys.errnoOf(rc) != 0 or info.pid == 0) return;
        if (ours(info.pid)) |c| {
            reap(c);
        } else {
            _ = sys.waitid(1, info.pid, &info, sys.WEXITED | sys.WNOHANG | sys.__WALL, null); // P_PID
        }
    }
}

fn ours(pid: i32) ?*Child {
    for (children[0..high_water]) |*c| if (c.live and c.pid == pid) return c;
    return null;
}

/// True while anything, ours or adopted, is still our child (zombies included).
fn anyChildren() bool {
    var info: sys.Siginfo = undefined;
    const WNOWAIT = 0x01000000;
    const rc = sys.waitid(0, 0, &info, sys.WEXITED | sys.WNOHANG | WNOWAIT | sys.__WALL, null);
    return sys.errnoOf(rc) != sys.ECHILD;
}

/// SIGTERM to every descendant, up to `grace_ms` for them to go, then SIGKILL until none is
/// left. Exits reported over the socket while the main process still listens (close()).
fn endTree() void {
    if (connected) _ = linux.epoll_ctl(epoll_fd, linux.EPOLL.CTL_DEL, sock, null);
    tree.signalAll(linux.SIG.TERM);
    const deadline = nowMs() + grace_ms;
    while (anyChildren()) {
        const left = deadline - nowMs();
        if (left <= 0) break;
        serveOnce(@intCast(@min(left, 50)));
        reapOrphans();
    }
    while (anyChildren()) {
        tree.signalAll(linux.SIG.KILL);
        serveOnce(10);
        reapOrphans();
    }
}

fn nowMs() i64 {
    var ts: linux.timespec = undefined;
    _ = linux.clock_gettime(.MONOTONIC, &ts);
    return @as(i64, ts.sec) * 1000 + @divTrunc(@as(i64, ts.nsec), 1_000_000);
}

test {
    _ = tree;
}

test "rewriteRequest maps shipped slots, in order, onto the received fds, and arms SIGKILL" {
    var bytes: [@sizeOf(abi.RequestHeader) + 5 * @sizeOf(abi.Slot) + 4]u8 = undefined;
    const header = abi.RequestHeader{ .abi = abi.version, .flags = 0, .slot_count = 5, .argc = 1, .envc = 0 };
    @memcpy(bytes[0..@sizeOf(abi.RequestHeader)], std.mem.asBytes(&header));
    const slots = [_]abi.Slot{ .{ .kind = .ignore, .fd = -1 }, .{ .kind = .pipe, .fd = -1 }, .{ .kind = .inherit, .fd = 2 }, .{ .kind = .none, .fd = -1 }, .{ .kind = .fd, .fd = 40 } };
    @memcpy(bytes[@sizeOf(abi.RequestHeader)..][0 .. 5 * @sizeOf(abi.Slot)], std.mem.sliceAsBytes(&slots));
    try std.testing.expectEqual(@as(?usize, 5), rewriteRequest(&bytes, &.{ 11, 12, 13 }));
    const got = std.mem.bytesAsSlice(abi.Slot, bytes[@sizeOf(abi.RequestHeader)..][0 .. 5 * @sizeOf(abi.Slot)]);
    try std.testing.expectEqual(abi.SlotKind.ignore, got[0].kind);
    try std.testing.expectEqual(abi.Slot{ .kind = .fd, .fd = 11 }, got[1]);
    try std.testing.expectEqual(abi.Slot{ .kind = .fd, .fd = 12 }, got[2]);
    try std.testing.expectEqual(abi.SlotKind.none, got[3].kind);
    try std.testing.expectEqual(abi.Slot{ .kind = .fd, .fd = 13 }, got[4]);
    try std.testing.expectEqual(@as(i32, linux.SIG.KILL), std.mem.bytesToValue(abi.RequestHeader, bytes[0..@sizeOf(abi.RequestHeader)]).death_signal);
    // One fd too many or too few is refused.
    try std.testing.expectEqual(@as(?usize, null), rewriteRequest(&bytes, &.{ 11, 12 }));
}

test "a launched child that cannot be watched is killed, reaped and released, and the request answered (one Spawned, no Exited)" {
    if (launch.devnull_fd < 0) try std.testing.expectEqual(@as(i32, 0), launch.init());
    var pair: [2]i32 = undefined;
    try std.testing.expectEqual(@as(usize, 0), linux.socketpair(linux.AF.UNIX, linux.SOCK.SEQPACKET | linux.SOCK.CLOEXEC, 0, &pair));
    defer for (pair) |fd| sys.close(fd);
    sock = pair[1];
    defer sock = protocol.helper_socket_fd;
    // No epoll set (setup did not run): watching the child's pidfd fails with EBADF.
    epoll_fd = -1;
    var bytes: [@sizeOf(protocol.SpawnFrame) + @sizeOf(abi.RequestHeader) + 3 * @sizeOf(abi.Slot) + 15]u8 align(8) = undefined;
    const head = protocol.SpawnFrame{ .tag = 5, .fd_count = 1 };
    const header = abi.RequestHeader{ .abi = abi.version, .flags = 0, .slot_count = 3, .argc = 1, .envc = 0 };
    const slots = [_]abi.Slot{ .{ .kind = .ignore, .fd = -1 }, .{ .kind = .ignore, .fd = -1 }, .{ .kind = .ignore, .fd = -1 } };
    var at: usize = 0;
    for ([_][]const u8{ std.mem.asBytes(&head), std.mem.asBytes(&header), std.mem.sliceAsBytes(&slots), "/bin/true\x00true\x00" }) |part| {
        @memcpy(bytes[at..][0..part.len], part);
        at += part.len;
    }
    const cwd = sys.asFd(sys.openat(sys.AT_FDCWD, ".", sys.O_PATH | sys.O_DIRECTORY | sys.O_CLOEXEC));
    defer sys.close(cwd);
    spawn(bytes[0..at], &.{cwd}, 0);
    var got: protocol.Exited = undefined; // room for either frame
    const n = sys.read(pair[0], std.mem.asBytes(&got));
    try std.testing.expectEqual(@as(usize, @sizeOf(protocol.Spawned)), n);
    const spawned = std.mem.bytesToValue(protocol.Spawned, std.mem.asBytes(&got)[0..@sizeOf(protocol.Spawned)]);
    try std.testing.expectEqual(protocol.Kind.spawned, spawned.kind);
    try std.testing.expectEqual(@as(u32, 5), spawned.tag);
    try std.testing.expectEqual(abi.Stage.resource, spawned.stage);
    try std.testing.expectEqual(@as(i32, sys.EBADF), spawned.errno);
    // Nothing else follows (no Exited for a launch main was told failed), nothing is held.
    var more: [8]u8 = undefined;
    try std.testing.expectEqual(@as(i32, sys.EAGAIN), sys.errnoOf(linux.recvfrom(pair[0], &more, more.len, linux.MSG.DONTWAIT, null, null)));
    try std.testing.expectEqual(@as(usize, 0), child_count);
    try std.testing.expectEqual(@as(usize, 0), pending_count);
    try std.testing.expect(connected);
    try std.testing.expect(!anyChildren()); // reaped, not left a zombie
}
