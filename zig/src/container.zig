//! The main process's side of a container: start the helper (through the engine's own launch,
//! with exactly one fd), ship each request and its fds to it as one SCM_RIGHTS frame, and turn
//! its replies into the reaper's ids and completions, so a Subprocess cannot tell the difference.
//! One reader thread serves every session. Left out: more than one request in flight per session.
const std = @import("std");
const linux = std.os.linux;

// The rooms the helper reuses (it imports this file as its "engine" module).
pub const abi = @import("abi.zig");
pub const sys = @import("sys.zig");
pub const launch = @import("launch.zig");
pub const reaper = @import("reaper.zig");
const sync_mod = @import("sync.zig");
pub const protocol = @import("helper/protocol.zig");

/// A launch failure that means "the helper is gone", never produced by a real launch: the caller
/// opens a fresh session. In a Completion (stage resource never comes from a child) it marks a
/// child lost with its helper.
pub const lost_stage: abi.Stage = .resource;
pub const lost_errno: i32 = 104; // ECONNRESET

const max_sessions = 64;
/// Children launched through one session and not yet reported ended.
const max_inflight = 4096;
/// How long a spawn waits for the helper's reply before the helper counts as hung and is killed.
const reply_timeout_ns = 10 * std.time.ns_per_s;
/// How long the reader waits for a lost helper's children to die after it SIGKILLs them.
const lost_kill_wait_ms = 1000;
const ECONNRESET = 104;
const E2BIG = 7;
const EPIPE = 32;

const Entry = struct {
    state: enum { free, running, running_sync } = .free,
    /// The reaper id (async) or 0; the pidfd is the reaper's (async) or ours (sync).
    id: u32 = 0,
    pid: i32 = -1,
    pidfd: i32 = -1,
    /// Sync only: the helper's report, once `finished`.
    finished: bool = false,
    completion: abi.Completion = undefined,
};

/// What the reader hands a waiting spawn; a copy, since a quick child's exit may free its entry
/// before the waiter runs again.
const Reply = struct { spawned: protocol.Spawned, pidfd: i32, id: u32 = 0 };

const Session = struct {
    in_use: bool = false,
    generation: u32 = 0,
    sock: i32 = -1,
    helper_id: u32 = 0,
    connected: bool = false,
    released: bool = false,
    /// Held by a spawn from send to reply: one request in flight per session.
    request_mutex: std.Thread.Mutex = .{},
    /// Held by whoever reads the socket: the reader thread, or a spawn waiting for its reply
    /// (which reads itself rather than wait for the reader thread to wake it: one switch less).
    read_mutex: std.Thread.Mutex = .{},
    /// Guards everything below and `connected`; the reader thread takes it per frame.
    mutex: std.Thread.Mutex = .{},
    cond: std.Thread.Condition = .{},
    reply: ?Reply = null,
    entries: []Entry = &.{},
    free_tags: []u16 = &.{},
    free_count: usize = 0,
};

var sessions: [max_sessions]Session = [_]Session{.{}} ** max_sessions;
var table_mutex: std.Thread.Mutex = .{};
var reader_once = std.once(startReader);
var reader_errno: i32 = 0;
var epoll_fd: i32 = -1;

fn handleOf(index: usize, s: *const Session) u32 {
    return (s.generation << 8) | @as(u32, @intCast(index));
}

fn lookup(handle: u32) ?*Session {
    const index = handle & 0xff;
    if (index >= max_sessions) return null;
    const s = &sessions[index];
    table_mutex.lock();
    defer table_mutex.unlock();
    return if (s.in_use and handleOf(index, s) == handle) s else null;
}

// ---------------------------------------------------------------------------------------------
// Opening: the helper is launched like any child, with one slot: fd 3 = its socket end.

pub fn open(helper_path: [*:0]const u8, grace_ms: i32, out: *abi.ContainerOpenResult) void {
    out.* = .{ .session = 0, .helper_id = 0, .helper_pid = -1, .stage = .none, .errno = 0 };
    reader_once.call();
    if (reader_errno != 0) return fail(out, .resource, reader_errno);
    var pair: [2]i32 = undefined;
    const rc = linux.socketpair(linux.AF.UNIX, linux.SOCK.SEQPACKET | linux.SOCK.CLOEXEC, 0, &pair);
    if (sys.errnoOf(rc) != 0) return fail(out, .resource, sys.errnoOf(rc));
    // A request frame holds argv and envp whole; the default send buffer (~208 KiB) may not.
    const sndbuf: i32 = protocol.max_frame_bytes;
    _ = linux.setsockopt(pair[0], linux.SOL.SOCKET, linux.SO.SNDBUF, std.mem.asBytes(&sndbuf), 4);
    const started = startHelper(helper_path, grace_ms, pair[1]);
    sys.close(pair[1]); // the helper has its own copy now (or never will)
    const helper = switch (started) {
        .failed => |f| {
            sys.close(pair[0]);
            return fail(out, f.stage, f.errno);
        },
        .ok => |l| l,
    };
    const s = claim(pair[0]) orelse {
        _ = sys.pidfdSendSignal(helper.pidfd, sys.SIGKILL);
        sys.close(pair[0]);
        return fail(out, .resource, sys.EAGAIN);
    };
    s.helper_id = helper.id;
    out.session = handleOf(s - &sessions[0], s);
    out.helper_id = helper.id;
    out.helper_pid = helper.pid;
}

fn fail(out: *abi.ContainerOpenResult, stage: abi.Stage, errno: i32) void {
    out.stage = stage;
    out.errno = errno;
}

const Started = union(enum) { ok: struct { id: u32, pid: i32, pidfd: i32 }, failed: launch.Failure };

fn startHelper(helper_path: [*:0]const u8, grace_ms: i32, helper_end: i32) Started {
    var buf: [4096]u8 align(8) = undefined;
    const header = abi.RequestHeader{ .abi = abi.version, .flags = 0, .slot_count = 4, .argc = 3, .envc = 0 };
    const slots = [_]abi.Slot{ .{ .kind = .none, .fd = -1 }, .{ .kind = .none, .fd = -1 }, .{ .kind = .none, .fd = -1 }, .{ .kind = .fd, .fd = helper_end } };
    const fixed = @sizeOf(abi.RequestHeader) + @sizeOf(@TypeOf(slots));
    @memcpy(buf[0..@sizeOf(abi.RequestHeader)], std.mem.asBytes(&header));
    @memcpy(buf[@sizeOf(abi.RequestHeader)..fixed], std.mem.sliceAsBytes(&slots));
    // file, argv[0], argv[1] = grace in ms, argv[2] = our pid (the helper's parent-death check).
    const path = std.mem.span(helper_path);
    const strings = std.fmt.bufPrint(buf[fixed..], "{s}\x00{s}\x00{d}\x00{d}\x00", .{ path, path, grace_ms, linux.getpid() }) catch
        return .{ .failed = .{ .stage = .exec, .errno = 36 } }; // ENAMETOOLONG
    var parent_fds: [4]i32 = undefined;
    switch (launch.start(buf[0 .. fixed + strings.len], &parent_fds, false, null)) {
        .failed => |f| return .{ .failed = f },
        .ok => |l| {
            const pid = l.pid;
            const pidfd = l.pidfd;
            const id = reaper.add(l) orelse {
                _ = sys.pidfdSendSignal(pidfd, sys.SIGKILL);
                return .{ .failed = .{ .stage = .resource, .errno = sys.EAGAIN } };
            };
            return .{ .ok = .{ .id = id, .pid = pid, .pidfd = pidfd } };
        },
    }
}

fn claim(sock: i32) ?*Session {
    const pages = std.heap.page_allocator;
    const entries = pages.alloc(Entry, max_inflight) catch return null;
    const free_tags = pages.alloc(u16, max_inflight) catch {
        pages.free(entries);
        return null;
    };
    table_mutex.lock();
    defer table_mutex.unlock();
    for (&sessions, 0..) |*s, index| {
        if (s.in_use) continue;
        const generation = (s.generation +% 1) & 0xffffff;
        // Field by field, never `s.* = .{…}`: the reader thread may still be on its way out of
        // this slot's last session (freeIfDone runs inside readSession, before its deferred
        // read_mutex.unlock()), and resetting a mutex it holds makes that unlock fail.
        s.in_use = true;
        s.generation = if (generation == 0) 1 else generation;
        s.sock = sock;
        s.helper_id = 0;
        s.connected = true;
        s.released = false;
        s.reply = null;
        s.entries = entries;
        s.free_tags = free_tags;
        s.free_count = max_inflight;
        for (entries) |*e| e.* = .{};
        for (free_tags, 0..) |*t, i| t.* = @intCast(max_inflight - 1 - i);
        var ev = linux.epoll_event{ .events = linux.EPOLL.IN, .data = .{ .u64 = index } };
        if (sys.errnoOf(linux.epoll_ctl(epoll_fd, linux.EPOLL.CTL_ADD, sock, &ev)) != 0) {
            s.in_use = false;
            break;
        }
        return s;
    }
    pages.free(entries);
    pages.free(free_tags);
    return null;
}

/// Frees the session once both sides are done with it: JS released it and the reader saw EOF.
/// Called with table_mutex held.
fn freeIfDone(s: *Session) void {
    if (!s.in_use or !s.released or s.connected) return;
    sys.close(s.sock);
    std.heap.page_allocator.free(s.entries);
    std.heap.page_allocator.free(s.free_tags);
    s.in_use = false;
}

pub fn release(handle: u32) void {
    const s = lookup(handle) orelse return;
    // Our end's EOF for the helper: it ends the tree with its grace and reports as it goes.
    _ = linux.shutdown(s.sock, linux.SHUT.WR);
    table_mutex.lock();
    defer table_mutex.unlock();
    s.mutex.lock();
    s.released = true;
    s.mutex.unlock();
    freeIfDone(s);
}

pub fn control(handle: u32, kind: protocol.Kind, arg: i32) i32 {
    const s = lookup(handle) orelse return sys.ESRCH;
    s.request_mutex.lock();
    defer s.request_mutex.unlock();
    const frame = protocol.Control{ .kind = kind, .arg = arg };
    return sendFrame(s.sock, std.mem.asBytes(&frame), &.{}, &.{});
}

// ---------------------------------------------------------------------------------------------
// Spawning

/// What one request ships: per shipped slot the fd to send, the pipe ends made here.
const Shipment = struct {
    fds: [protocol.max_fds]i32 = undefined,
    count: usize = 0,
    /// Fds this call made and must close once sent (the child's pipe ends, the cwd).
    made: [protocol.max_fds]i32 = undefined,
    made_count: usize = 0,

    fn closeMade(self: *Shipment) void {
        for (self.made[0..self.made_count]) |fd| sys.close(fd);
        self.made_count = 0;
    }
};

/// Checks the request's slots and gathers the fds to ship: the caller's own fds for inherit and
/// fd slots, one end of a fresh socketpair for pipe slots (the other end lands in parent_fds,
/// as forkless_spawn hands it out), then the cgroup fd when flagged, and our cwd last.
fn prepare(request: []const u8, parent_fds: []i32, ship: *Shipment) ?launch.Failure {
    for (parent_fds) |*fd| fd.* = -1;
    const slots = std.mem.bytesAsSlice(abi.Slot, request[@sizeOf(abi.RequestHeader)..][0 .. parent_fds.len * @sizeOf(abi.Slot)]);
    for (slots, 0..) |slot, i| {
        if (!protocol.isShipped(slot.kind)) continue;
        if (ship.count == protocol.max_fds - 1) return .{ .stage = .resource, .errno = E2BIG };
        if (slot.kind == .pipe) {
            var pair: [2]i32 = undefined;
            const rc = linux.socketpair(linux.AF.UNIX, linux.SOCK.STREAM | linux.SOCK.CLOEXEC, 0, &pair);
            if (sys.errnoOf(rc) != 0) return .{ .stage = .resource, .errno = sys.errnoOf(rc) };
            _ = sys.fcntl(pair[0], sys.F_SETFL, sys.O_NONBLOCK | sys.O_RDWR);
            parent_fds[i] = pair[0];
            ship.made[ship.made_count] = pair[1];
            ship.made_count += 1;
            ship.fds[ship.count] = pair[1];
        } else {
            if (sys.errnoOf(sys.fcntl(slot.fd, sys.F_GETFD, 0)) != 0) return .{ .stage = .fd, .errno = sys.EBADF };
            ship.fds[ship.count] = slot.fd;
        }
        ship.count += 1;
    }
    const header = std.mem.bytesToValue(abi.RequestHeader, request[0..@sizeOf(abi.RequestHeader)]);
    if (header.flags & abi.flag_cgroup_fd != 0) {
        if (ship.count == protocol.max_fds - 1) return .{ .stage = .resource, .errno = E2BIG };
        if (sys.errnoOf(sys.fcntl(header.cgroup_fd, sys.F_GETFD, 0)) != 0) return .{ .stage = .resource, .errno = sys.EBADF };
        ship.fds[ship.count] = header.cgroup_fd;
        ship.count += 1;
    }
    const cwd = sys.openat(sys.AT_FDCWD, ".", sys.O_PATH | sys.O_DIRECTORY | sys.O_CLOEXEC);
    if (sys.errnoOf(cwd) != 0) return .{ .stage = .cwd, .errno = sys.errnoOf(cwd) };
    ship.made[ship.made_count] = sys.asFd(cwd);
    ship.made_count += 1;
    ship.fds[ship.count] = sys.asFd(cwd);
    ship.count += 1;
    return null;
}

fn slotCount(request: []const u8) ?usize {
    if (request.len < @sizeOf(abi.RequestHeader)) return null;
    const header = std.mem.bytesToValue(abi.RequestHeader, request[0..@sizeOf(abi.RequestHeader)]);
    if (header.slot_count < 3 or header.slot_count > abi.max_slots) return null;
    if (request.len < @sizeOf(abi.RequestHeader) + header.slot_count * @sizeOf(abi.Slot)) return null;
    return header.slot_count;
}

const Launched = union(enum) { ok: struct { tag: u16, pid: i32, id: u32, pidfd: i32 }, failed: launch.Failure };

/// One request through the helper: ship, wait for the reply, register. `sync` children are not
/// given to the reaper: their pidfd and completion stay with the caller.
fn spawnThrough(s: *Session, request: []const u8, parent_fds: []i32, sync: bool) Launched {
    var ship = Shipment{};
    defer ship.closeMade();
    if (prepare(request, parent_fds, &ship)) |failure| return .{ .failed = failure };
    s.request_mutex.lock();
    defer s.request_mutex.unlock();
    s.mutex.lock();
    const tag = takeTag(s, if (sync) .running_sync else .running) orelse {
        s.mutex.unlock();
        return .{ .failed = .{ .stage = .resource, .errno = sys.EAGAIN } };
    };
    const connected = s.connected;
    s.reply = null;
    s.mutex.unlock();
    if (!connected) return abandon(s, tag, .{ .stage = lost_stage, .errno = lost_errno });
    const head = protocol.SpawnFrame{ .tag = tag, .fd_count = @intCast(ship.count) };
    const errno = sendFrame(s.sock, std.mem.asBytes(&head), request, ship.fds[0..ship.count]);
    // In flight, the kernel holds its own references: our copies of the child's ends go now.
    ship.closeMade();
    if (errno == EPIPE or errno == ECONNRESET) return abandon(s, tag, .{ .stage = lost_stage, .errno = lost_errno });
    if (errno != 0) return abandon(s, tag, .{ .stage = .resource, .errno = if (errno == 90) E2BIG else errno }); // EMSGSIZE
    const reply = awaitReply(s) orelse return abandon(s, tag, .{ .stage = lost_stage, .errno = lost_errno });
    if (reply.spawned.stage != .none) return abandon(s, tag, .{ .stage = reply.spawned.stage, .errno = reply.spawned.errno });
    return .{ .ok = .{ .tag = tag, .pid = reply.spawned.pid, .id = reply.id, .pidfd = reply.pidfd } };
}

/// Reads the socket until our reply arrives (handling exit reports on the way, exactly as the
/// reader thread would); null when the helper went away first. A helper that stays silent past
/// the bound is killed, which turns into EOF and so into null.
fn awaitReply(s: *Session) ?Reply {
    s.read_mutex.lock();
    defer s.read_mutex.unlock();
    var killed = false;
    while (true) {
        s.mutex.lock();
        const reply = s.reply;
        const connected = s.connected;
        s.reply = null;
        s.mutex.unlock();
        if (reply != null) return reply;
        if (!connected) return null;
        var p = [1]linux.pollfd{.{ .fd = s.sock, .events = linux.POLL.IN, .revents = 0 }};
        const rc = linux.poll(&p, 1, @intCast(reply_timeout_ns / std.time.ns_per_ms));
        if (rc == 0 and !killed) {
            killed = true;
            _ = reaper.kill(s.helper_id, sys.SIGKILL);
        }
        readFrames(s);
    }
}

fn takeTag(s: *Session, state: @FieldType(Entry, "state")) ?u16 {
    if (s.free_count == 0) return null;
    s.free_count -= 1;
    const tag = s.free_tags[s.free_count];
    s.entries[tag] = .{ .state = state };
    return tag;
}

/// Called with s.mutex held.
fn putTag(s: *Session, tag: u16) void {
    s.entries[tag] = .{};
    s.free_tags[s.free_count] = tag;
    s.free_count += 1;
}

fn abandon(s: *Session, tag: u16, failure: launch.Failure) Launched {
    s.mutex.lock();
    defer s.mutex.unlock();
    putTag(s, tag);
    return .{ .failed = failure };
}

/// One frame: `head` then `body`, with `fds` as SCM_RIGHTS. Returns 0 or the errno.
fn sendFrame(sock: i32, head: []const u8, body: []const u8, fds: []const i32) i32 {
    var control_buf: protocol.CmsgBuffer = undefined;
    control_buf.header = .{ .len = protocol.CmsgBuffer.lenFor(fds.len), .level = protocol.SOL_SOCKET, .type = protocol.SCM_RIGHTS };
    @memcpy(control_buf.fds[0..fds.len], fds);
    var iov = [2]std.posix.iovec_const{ .{ .base = head.ptr, .len = head.len }, .{ .base = body.ptr, .len = body.len } };
    const msg = linux.msghdr_const{
        .name = null,
        .namelen = 0,
        .iov = &iov,
        .iovlen = if (body.len == 0) 1 else 2,
        .control = if (fds.len == 0) null else &control_buf,
        .controllen = if (fds.len == 0) 0 else protocol.CmsgBuffer.spaceFor(fds.len),
        .flags = 0,
    };
    while (true) {
        const rc = linux.sendmsg(sock, &msg, linux.MSG.NOSIGNAL);
        if (sys.errnoOf(rc) == sys.EINTR) continue;
        return sys.errnoOf(rc);
    }
}

/// The session and the slice of parent fds a spawn through `handle` works with.
const Target = struct { session: *Session, parent_fds: []i32 };

fn targetOf(handle: u32, request: []const u8, parent_fds_out: [*]i32) union(enum) { ok: Target, failed: launch.Failure } {
    const s = lookup(handle) orelse return .{ .failed = .{ .stage = lost_stage, .errno = lost_errno } };
    const count = slotCount(request) orelse return .{ .failed = .{ .stage = .resource, .errno = sys.EINVAL } };
    return .{ .ok = .{ .session = s, .parent_fds = parent_fds_out[0..count] } };
}

pub fn spawn(handle: u32, request: []const u8, result: *abi.SpawnResult, parent_fds_out: [*]i32) void {
    result.* = .{ .id = 0, .pid = -1, .stage = .none, .errno = 0 };
    const t = switch (targetOf(handle, request, parent_fds_out)) {
        .ok => |t| t,
        .failed => |f| {
            result.stage = f.stage;
            result.errno = f.errno;
            return;
        },
    };
    const parent_fds = t.parent_fds;
    switch (spawnThrough(t.session, request, parent_fds, false)) {
        .ok => |l| {
            result.id = l.id;
            result.pid = l.pid;
        },
        .failed => |f| {
            closeAll(parent_fds);
            result.stage = f.stage;
            result.errno = f.errno;
        },
    }
}

fn closeAll(fds: []i32) void {
    for (fds) |*fd| if (fd.* >= 0) {
        sys.close(fd.*);
        fd.* = -1;
    };
}

// ---------------------------------------------------------------------------------------------
// spawnSync through the helper: gather stdout and stderr here, then take the helper's report.

pub fn spawnSync(handle: u32, request: []const u8, out: *abi.SyncResult, parent_fds_out: [*]i32, limits: sync_mod.Limits) void {
    out.* = std.mem.zeroes(abi.SyncResult);
    out.pid = -1;
    const deadline_ns = sync_mod.deadlineOf(limits);
    const t = switch (targetOf(handle, request, parent_fds_out)) {
        .ok => |t| t,
        .failed => |f| {
            out.stage = f.stage;
            out.errno = f.errno;
            return;
        },
    };
    const s = t.session;
    const parent_fds = t.parent_fds;
    const l = switch (spawnThrough(s, request, parent_fds, true)) {
        .ok => |l| l,
        .failed => |f| {
            closeAll(parent_fds);
            out.stage = f.stage;
            out.errno = f.errno;
            return;
        },
    };
    out.pid = l.pid;
    // The same gathering and limits as a direct spawnSync: the helper's pidfd signals the child.
    sync_mod.collect(l.pidfd, parent_fds, deadline_ns, limits, out);
    const done = awaitExit(s, l.tag);
    sys.close(l.pidfd);
    sync_mod.closeExtraSlots(parent_fds);
    out.exit_code = done.exit_code;
    out.signal = done.signal;
    out.stage = done.stage;
    out.errno = done.errno;
    out.rusage = done.rusage;
}

fn awaitExit(s: *Session, tag: u16) abi.Completion {
    s.mutex.lock();
    defer s.mutex.unlock();
    while (!s.entries[tag].finished) s.cond.wait(&s.mutex);
    const done = s.entries[tag].completion;
    putTag(s, tag);
    return done;
}

// ---------------------------------------------------------------------------------------------
// The reader thread: every helper's frames, and its EOF.

fn startReader() void {
    const rc = linux.epoll_create1(linux.EPOLL.CLOEXEC);
    if (sys.errnoOf(rc) != 0) {
        reader_errno = sys.errnoOf(rc);
        return;
    }
    epoll_fd = sys.asFd(rc);
    const thread = std.Thread.spawn(.{ .stack_size = 128 * 1024 }, readLoop, .{}) catch {
        reader_errno = sys.EAGAIN;
        return;
    };
    thread.detach();
}

fn readLoop() void {
    var events: [16]linux.epoll_event = undefined;
    while (true) {
        const rc = linux.epoll_wait(epoll_fd, &events, events.len, -1);
        if (sys.errnoOf(rc) == sys.EINTR) continue;
        if (sys.errnoOf(rc) != 0) std.debug.panic("forkless: container epoll_wait failed with errno {d}", .{sys.errnoOf(rc)});
        for (events[0..rc]) |ev| readSession(&sessions[@intCast(ev.data.u64)]);
    }
}

/// The reader thread's turn at a session: it waits while a spawn is reading for its reply.
fn readSession(s: *Session) void {
    s.read_mutex.lock();
    defer s.read_mutex.unlock();
    if (s.connected) readFrames(s);
}

/// Handles every frame waiting on this session's socket; at EOF, the loss of the helper.
/// Called with read_mutex held.
fn readFrames(s: *Session) void {
    while (true) {
        var frame: [@sizeOf(protocol.Exited)]u8 align(8) = undefined;
        var control_buf: protocol.CmsgBuffer = undefined;
        var iov = [1]std.posix.iovec{.{ .base = &frame, .len = frame.len }};
        var msg = linux.msghdr{ .name = null, .namelen = 0, .iov = &iov, .iovlen = 1, .control = &control_buf, .controllen = protocol.CmsgBuffer.spaceFor(4), .flags = 0 };
        const n = linux.recvmsg(s.sock, &msg, linux.MSG.DONTWAIT | linux.MSG.CMSG_CLOEXEC);
        const err = sys.errnoOf(n);
        if (err == sys.EAGAIN) return;
        if (err == sys.EINTR) continue;
        if (err != 0 or n == 0) return lost(s);
        const fds = control_buf.received(msg.controllen);
        const kind = std.mem.bytesToValue(protocol.Kind, frame[0..4]);
        if (kind == .spawned and n == @sizeOf(protocol.Spawned)) {
            const spawned = std.mem.bytesToValue(protocol.Spawned, frame[0..@sizeOf(protocol.Spawned)]);
            onSpawned(s, spawned, if (fds.len > 0) fds[0] else -1);
            for (fds[@min(fds.len, 1)..]) |fd| sys.close(fd);
        } else if (kind == .exited and n == @sizeOf(protocol.Exited)) {
            for (fds) |fd| sys.close(fd);
            onExited(s, std.mem.bytesToValue(protocol.Exited, &frame));
        } else {
            for (fds) |fd| sys.close(fd);
        }
    }
}

fn onSpawned(s: *Session, spawned: protocol.Spawned, pidfd: i32) void {
    s.mutex.lock();
    defer s.mutex.unlock();
    defer s.cond.broadcast();
    var reply = Reply{ .spawned = spawned, .pidfd = pidfd };
    if (spawned.tag >= max_inflight) return;
    const e = &s.entries[spawned.tag];
    if (spawned.stage != .none) {
        s.reply = reply;
        return;
    }
    if (pidfd < 0) {
        // A launch without its pidfd cannot be signalled safely: refuse it; the helper will
        // still report its end, which the entry (now failed) swallows.
        reply.spawned.stage = .resource;
        reply.spawned.errno = sys.EINVAL;
        s.reply = reply;
        return;
    }
    e.pid = spawned.pid;
    e.pidfd = pidfd;
    if (e.state == .running) {
        e.id = reaper.addForeign(spawned.pid, pidfd) orelse {
            _ = sys.pidfdSendSignal(pidfd, sys.SIGKILL);
            sys.close(pidfd);
            e.pidfd = -1;
            reply.spawned.stage = .resource;
            reply.spawned.errno = sys.EAGAIN;
            s.reply = reply;
            return;
        };
        reply.id = e.id;
    }
    s.reply = reply;
}

fn onExited(s: *Session, exited: protocol.Exited) void {
    s.mutex.lock();
    defer s.mutex.unlock();
    if (exited.tag >= max_inflight) return;
    const tag: u16 = @intCast(exited.tag);
    const e = &s.entries[tag];
    switch (e.state) {
        .running => {
            if (e.id != 0) reaper.postForeign(e.id, exited.completion);
            putTag(s, tag);
        },
        .running_sync => {
            e.completion = exited.completion;
            e.finished = true;
            s.cond.broadcast();
        },
        // A frame for a tag no longer in use (a launch refused in onSpawned).
        .free => {},
    }
}

/// The helper is gone (it died, or it finished after close): every child still ours was killed
/// with it. Make sure of that through their pidfds, then report each as killed by SIGKILL.
fn lost(s: *Session) void {
    _ = linux.epoll_ctl(epoll_fd, linux.EPOLL.CTL_DEL, s.sock, null);
    s.mutex.lock();
    s.connected = false;
    for (s.entries) |*e| if (e.state != .free and e.pidfd >= 0) {
        _ = sys.pidfdSendSignal(e.pidfd, sys.SIGKILL);
    };
    for (s.entries, 0..) |*e, tag| {
        if (e.state == .free or e.pidfd < 0) continue;
        waitDead(e.pidfd);
        var done = std.mem.zeroes(abi.Completion);
        done.pid = e.pid;
        done.exit_code = -1;
        done.signal = sys.SIGKILL;
        if (e.state == .running) {
            done.stage = lost_stage;
            done.errno = lost_errno;
            reaper.postForeign(e.id, done);
            putTag(s, @intCast(tag));
        } else if (e.state == .running_sync and !e.finished) {
            e.completion = done;
            e.finished = true;
        }
    }
    s.cond.broadcast();
    s.mutex.unlock();
    table_mutex.lock();
    defer table_mutex.unlock();
    freeIfDone(s);
}

fn waitDead(pidfd: i32) void {
    var p = [1]linux.pollfd{.{ .fd = pidfd, .events = linux.POLL.IN, .revents = 0 }};
    _ = linux.poll(&p, 1, lost_kill_wait_ms);
}
