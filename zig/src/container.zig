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
/// How long the helper may leave us waiting (for a reply, an exit report, room in its socket)
/// before it counts as hung and is SIGKILLed; as long again for its end to show, then it counts
/// as lost whether or not we saw it go (a helper in D state, or one whose socket someone else
/// holds, gives no EOF). A var so that tests can shorten it; a helper that is not hung never
/// comes near it.
pub var helper_patience_ms: i64 = 10_000;
/// How long, in all, a lost helper's children get to die after their SIGKILL before they are
/// reported (one bound for all of them: the reader thread serves every container).
const lost_kill_wait_ms = 1000;
const ECONNRESET = 104;
const E2BIG = 7;
const EPIPE = 32;
const EMFILE = 24;
const EMSGSIZE = 90;
const ETIMEDOUT = 110;

const Entry = struct {
    /// `refused`: the helper started a child we could not take (no pidfd, or the reaper full).
    /// Its tag stays taken until the helper reports that child's end: freed earlier, the tag
    /// would go to the next spawn, and that late Exited with it.
    state: enum { free, running, running_sync, refused } = .free,
    /// The reaper id (async) or 0; the pidfd is the reaper's (async) or ours (sync).
    id: u32 = 0,
    pid: i32 = -1,
    pidfd: i32 = -1,
    /// Sync only: the helper's report, once `finished`.
    finished: bool = false,
    completion: abi.Completion = undefined,
};

/// What the reader hands a waiting spawn; a copy, since a quick child's exit may free its entry
/// before the waiter runs again. `refused`: the child runs, but we could not take it; the helper
/// must be told to kill it, and its tag stays taken.
const Reply = struct { spawned: protocol.Spawned, pidfd: i32, id: u32 = 0, refused: bool = false };

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
    /// The largest frame sent inline on this socket; a bigger request goes in a memfd.
    inline_max_bytes: usize = 0,
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
    openWith(helper_path, grace_ms, .{}, out);
}

pub const OpenOptions = struct {
    /// SO_SNDBUF for our end, or null for the system's default. Tests set it to what a capped
    /// wmem_max leaves; nothing else needs it, since a large request travels in a memfd.
    send_buffer_bytes: ?i32 = null,
};

pub fn openWith(helper_path: [*:0]const u8, grace_ms: i32, options: OpenOptions, out: *abi.ContainerOpenResult) void {
    out.* = .{ .session = 0, .helper_id = 0, .helper_pid = -1, .stage = .none, .errno = 0 };
    reader_once.call();
    if (reader_errno != 0) return fail(out, .resource, reader_errno);
    var pair: [2]i32 = undefined;
    const rc = linux.socketpair(linux.AF.UNIX, linux.SOCK.SEQPACKET | linux.SOCK.CLOEXEC, 0, &pair);
    if (sys.errnoOf(rc) != 0) return fail(out, .resource, sys.errnoOf(rc));
    if (options.send_buffer_bytes) |bytes| {
        const set = linux.setsockopt(pair[0], linux.SOL.SOCKET, linux.SO.SNDBUF, std.mem.asBytes(&bytes), 4);
        std.debug.assert(sys.errnoOf(set) == 0); // SO_SNDBUF only clamps, it never refuses
    }
    const inline_max = inlineMaxOf(pair[0]);
    const started = startHelper(helper_path, grace_ms, pair[1]);
    sys.close(pair[1]); // the helper has its own copy now (or never will)
    const helper = switch (started) {
        .failed => |f| {
            sys.close(pair[0]);
            return fail(out, f.stage, f.errno);
        },
        .ok => |l| l,
    };
    const s = claim(pair[0], inline_max) orelse {
        // The reaper has it: it reaps it once the kill lands, and JS ignores an unknown id.
        _ = reaper.kill(helper.id, sys.SIGKILL);
        sys.close(pair[0]);
        return fail(out, .resource, sys.EAGAIN);
    };
    s.helper_id = helper.id;
    out.session = handleOf(s - &sessions[0], s);
    out.helper_id = helper.id;
    out.helper_pid = helper.pid;
}

/// What may go inline on `sock`: one datagram must fit its send buffer (the kernel refuses one
/// above sk_sndbuf - 32 with EMSGSIZE), with room to spare for a second frame queued behind.
fn inlineMaxOf(sock: i32) usize {
    var bytes: i32 = 0;
    var len: linux.socklen_t = 4;
    const rc = linux.getsockopt(sock, linux.SOL.SOCKET, linux.SO.SNDBUF, std.mem.asBytes(&bytes), &len);
    std.debug.assert(sys.errnoOf(rc) == 0 and bytes > 0); // our own fresh socket
    return @min(protocol.max_inline_bytes, @as(usize, @intCast(bytes)) / 2);
}

fn fail(out: *abi.ContainerOpenResult, stage: abi.Stage, errno: i32) void {
    out.stage = stage;
    out.errno = errno;
}

const Started = union(enum) { ok: struct { id: u32, pid: i32, pidfd: i32 }, failed: launch.Failure };

fn startHelper(helper_path: [*:0]const u8, grace_ms: i32, helper_end: i32) Started {
    var buf: [4096]u8 align(8) = undefined;
    // The helper's parent-death signal (SIGTERM: it ends the tree, daemons included) fires when
    // the thread that cloned it exits. A death signal in the request makes launch.zig clone it
    // on its launcher thread, which lives as long as the process: cloned on the calling JS
    // thread, a Worker's exit would end every child of the container.
    const header = abi.RequestHeader{ .abi = abi.version, .flags = 0, .slot_count = 4, .argc = 3, .envc = 0, .death_signal = linux.SIG.TERM };
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
                // Nothing would reap it or free its launch: kill, reap and release it here.
                reaper.abandon(l);
                return .{ .failed = .{ .stage = .resource, .errno = sys.EAGAIN } };
            };
            return .{ .ok = .{ .id = id, .pid = pid, .pidfd = pidfd } };
        },
    }
}

fn claim(sock: i32, inline_max: usize) ?*Session {
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
        s.inline_max_bytes = inline_max;
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
    return sendControl(s, kind, arg);
}

/// Called with request_mutex held. A helper that took no frame within our patience is lost.
fn sendControl(s: *Session, kind: protocol.Kind, arg: i32) i32 {
    const frame = protocol.Control{ .kind = kind, .arg = arg };
    const errno = sendFrame(s, &.{std.mem.asBytes(&frame)}, &.{});
    if (errno == ETIMEDOUT) forceLost(s);
    return errno;
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

    /// `made`: this call opened it, and closes it once sent.
    fn add(self: *Shipment, fd: i32, made: bool) void {
        std.debug.assert(self.count < protocol.max_fds); // prepare() keeps two places free
        self.fds[self.count] = fd;
        self.count += 1;
        if (!made) return;
        self.made[self.made_count] = fd;
        self.made_count += 1;
    }

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
    // Two places stay free behind the slots: our cwd, and the body's memfd.
    const slot_fds_max = protocol.max_fds - 2;
    for (slots, 0..) |slot, i| {
        if (!protocol.isShipped(slot.kind)) continue;
        if (ship.count == slot_fds_max) return .{ .stage = .resource, .errno = E2BIG };
        if (slot.kind == .pipe) {
            var pair: [2]i32 = undefined;
            const rc = linux.socketpair(linux.AF.UNIX, linux.SOCK.STREAM | linux.SOCK.CLOEXEC, 0, &pair);
            if (sys.errnoOf(rc) != 0) return .{ .stage = .resource, .errno = sys.errnoOf(rc) };
            _ = sys.fcntl(pair[0], sys.F_SETFL, sys.O_NONBLOCK | sys.O_RDWR);
            parent_fds[i] = pair[0];
            ship.add(pair[1], true);
        } else {
            if (sys.errnoOf(sys.fcntl(slot.fd, sys.F_GETFD, 0)) != 0) return .{ .stage = .fd, .errno = sys.EBADF };
            ship.add(slot.fd, false);
        }
    }
    const header = std.mem.bytesToValue(abi.RequestHeader, request[0..@sizeOf(abi.RequestHeader)]);
    if (header.flags & abi.flag_cgroup_fd != 0) {
        if (ship.count == slot_fds_max) return .{ .stage = .resource, .errno = E2BIG };
        if (sys.errnoOf(sys.fcntl(header.cgroup_fd, sys.F_GETFD, 0)) != 0) return .{ .stage = .resource, .errno = sys.EBADF };
        ship.add(header.cgroup_fd, false);
    }
    const cwd = sys.openat(sys.AT_FDCWD, ".", sys.O_PATH | sys.O_DIRECTORY | sys.O_CLOEXEC);
    if (sys.errnoOf(cwd) != 0) return .{ .stage = .cwd, .errno = sys.errnoOf(cwd) };
    ship.add(sys.asFd(cwd), true);
    return null;
}

/// Puts the request into a memfd, shipped last, for a frame too large to go inline.
fn shipBody(request: []const u8, ship: *Shipment) ?launch.Failure {
    if (request.len > protocol.max_request_bytes) return .{ .stage = .resource, .errno = E2BIG };
    const rc = linux.memfd_create("forkless-request", linux.MFD.CLOEXEC);
    if (sys.errnoOf(rc) != 0) return .{ .stage = .resource, .errno = sys.errnoOf(rc) };
    const fd = sys.asFd(rc);
    ship.add(fd, true);
    var done: usize = 0;
    while (done < request.len) {
        const n = sys.write(fd, request[done..]);
        if (sys.errnoOf(n) == sys.EINTR) continue;
        if (sys.errnoOf(n) != 0) return .{ .stage = .resource, .errno = sys.errnoOf(n) };
        done += n;
    }
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
    var head = protocol.SpawnFrame{ .tag = 0, .fd_count = 0 };
    const inline_body = @sizeOf(protocol.SpawnFrame) + request.len <= s.inline_max_bytes;
    if (!inline_body) {
        if (shipBody(request, &ship)) |failure| return .{ .failed = failure };
        head.flags = protocol.SpawnFrame.body_in_fd;
    }
    head.fd_count = @intCast(ship.count);
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
    const lost_failure = launch.Failure{ .stage = lost_stage, .errno = lost_errno };
    if (!connected) return abandon(s, tag, lost_failure);
    head.tag = tag;
    const body: []const u8 = if (inline_body) request else &.{};
    const errno = sendFrame(s, &.{ std.mem.asBytes(&head), body }, ship.fds[0..ship.count]);
    // In flight, the kernel holds its own references: our copies of the child's ends go now.
    ship.closeMade();
    switch (errno) {
        0 => {},
        EPIPE, ECONNRESET => return abandon(s, tag, lost_failure),
        ETIMEDOUT => {
            forceLost(s);
            return abandon(s, tag, lost_failure);
        },
        // Inline frames fit the buffer we measured; this would be a datagram the kernel still refused.
        EMSGSIZE => return abandon(s, tag, .{ .stage = .resource, .errno = E2BIG }),
        else => return abandon(s, tag, .{ .stage = .resource, .errno = errno }),
    }
    const reply = awaitReply(s) orelse return abandon(s, tag, lost_failure);
    if (reply.refused) {
        // The child runs and its tag stays taken (onSpawned marked it): the helper kills it and
        // reports its end, which frees the tag. A helper that cannot be told is lost, and lost()
        // frees the tag.
        _ = sendControl(s, .kill_launch, tag);
        return .{ .failed = .{ .stage = reply.spawned.stage, .errno = reply.spawned.errno } };
    }
    if (reply.spawned.stage != .none) return abandon(s, tag, .{ .stage = reply.spawned.stage, .errno = reply.spawned.errno });
    return .{ .ok = .{ .tag = tag, .pid = reply.spawned.pid, .id = reply.id, .pidfd = reply.pidfd } };
}

/// The escalation every wait on the helper follows: up to helper_patience_ms, then SIGKILL it
/// and wait as long again, then give up (the caller counts the helper as lost).
const Patience = struct {
    deadline_ms: i64,
    killed: bool = false,

    fn start() Patience {
        return .{ .deadline_ms = nowMs() + helper_patience_ms };
    }

    /// What is left of the current bound, for poll.
    fn leftMs(p: *const Patience) i32 {
        return @intCast(std.math.clamp(p.deadline_ms - nowMs(), 0, std.math.maxInt(i32)));
    }

    /// True once both bounds have passed; at the end of the first, the helper is SIGKILLed.
    fn exhausted(p: *Patience, s: *Session) bool {
        if (nowMs() < p.deadline_ms) return false;
        if (p.killed) return true;
        p.killed = true;
        _ = reaper.kill(s.helper_id, sys.SIGKILL);
        p.deadline_ms = nowMs() + helper_patience_ms;
        return false;
    }
};

fn nowMs() i64 {
    var ts: linux.timespec = undefined;
    const rc = linux.clock_gettime(.MONOTONIC, &ts);
    std.debug.assert(sys.errnoOf(rc) == 0);
    return @as(i64, ts.sec) * std.time.ms_per_s + @divTrunc(@as(i64, ts.nsec), std.time.ns_per_ms);
}

/// Reads the socket until our reply arrives (handling exit reports on the way, exactly as the
/// reader thread would); null when the helper went away first, or stayed silent past our
/// patience (it is then SIGKILLed, and counted lost even if its end never shows).
fn awaitReply(s: *Session) ?Reply {
    s.read_mutex.lock();
    defer s.read_mutex.unlock();
    var patience = Patience.start();
    while (true) {
        s.mutex.lock();
        const reply = s.reply;
        const connected = s.connected;
        s.reply = null;
        s.mutex.unlock();
        if (reply != null) return reply;
        if (!connected) return null;
        if (patience.exhausted(s)) {
            lost(s);
            return null;
        }
        var p = [1]linux.pollfd{.{ .fd = s.sock, .events = linux.POLL.IN, .revents = 0 }};
        _ = linux.poll(&p, 1, patience.leftMs());
        readFrames(s);
    }
}

/// The helper is hung past our patience: count it lost now (its children are SIGKILLed through
/// their pidfds and reported), unless its end was seen meanwhile.
fn forceLost(s: *Session) void {
    s.read_mutex.lock();
    defer s.read_mutex.unlock();
    if (s.connected) lost(s);
}

/// Called with s.mutex held.
fn takeTag(s: *Session, state: @FieldType(Entry, "state")) ?u16 {
    if (s.free_count == 0) return null;
    s.free_count -= 1;
    const tag = s.free_tags[s.free_count];
    std.debug.assert(tag < max_inflight and s.entries[tag].state == .free);
    s.entries[tag] = .{ .state = state };
    return tag;
}

/// Called with s.mutex held. Each tag is freed exactly once: by its spawn when the launch
/// failed, else by the report of its end (or the helper's loss).
fn putTag(s: *Session, tag: u16) void {
    std.debug.assert(s.entries[tag].state != .free);
    std.debug.assert(s.free_count < max_inflight);
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

/// One frame: the `parts` in order, with `fds` as SCM_RIGHTS. Returns 0 or the errno;
/// ETIMEDOUT when the helper took nothing for our patience (a stopped helper fills the socket,
/// and a blocking sendmsg would wait for it forever). The caller then counts it lost.
fn sendFrame(s: *Session, parts: []const []const u8, fds: []const i32) i32 {
    var control_buf: protocol.CmsgBuffer = undefined;
    control_buf.header = .{ .len = protocol.CmsgBuffer.lenFor(fds.len), .level = protocol.SOL_SOCKET, .type = protocol.SCM_RIGHTS };
    @memcpy(control_buf.fds[0..fds.len], fds);
    var iov: [2]std.posix.iovec_const = undefined;
    var iov_count: usize = 0;
    for (parts) |part| if (part.len > 0) {
        iov[iov_count] = .{ .base = part.ptr, .len = part.len };
        iov_count += 1;
    };
    const msg = linux.msghdr_const{
        .name = null,
        .namelen = 0,
        .iov = &iov,
        .iovlen = iov_count,
        .control = if (fds.len == 0) null else &control_buf,
        .controllen = if (fds.len == 0) 0 else protocol.CmsgBuffer.spaceFor(fds.len),
        .flags = 0,
    };
    var patience = Patience.start();
    while (true) {
        const errno = sys.errnoOf(linux.sendmsg(s.sock, &msg, linux.MSG.NOSIGNAL | linux.MSG.DONTWAIT));
        if (errno == sys.EINTR) continue;
        if (errno != sys.EAGAIN) return errno;
        if (patience.exhausted(s)) return ETIMEDOUT;
        var p = [1]linux.pollfd{.{ .fd = s.sock, .events = linux.POLL.OUT, .revents = 0 }};
        _ = linux.poll(&p, 1, patience.leftMs());
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
    const done = awaitExit(s, l.tag, l.pidfd);
    sys.close(l.pidfd);
    sync_mod.closeExtraSlots(parent_fds);
    out.exit_code = done.exit_code;
    out.signal = done.signal;
    out.stage = done.stage;
    out.errno = done.errno;
    out.rusage = done.rusage;
}

/// The helper's report of a sync child's end. The child itself may take as long as it likes (a
/// direct spawnSync waits for it too); from its end on, the helper gets our patience to report.
fn awaitExit(s: *Session, tag: u16, pidfd: i32) abi.Completion {
    var p = [1]linux.pollfd{.{ .fd = pidfd, .events = linux.POLL.IN, .revents = 0 }};
    while (sys.errnoOf(linux.poll(&p, 1, -1)) == sys.EINTR) {}
    var patience = Patience.start();
    s.mutex.lock();
    defer s.mutex.unlock();
    while (!s.entries[tag].finished) {
        const left_ns: u64 = @as(u64, @intCast(patience.leftMs())) * std.time.ns_per_ms;
        s.cond.timedWait(&s.mutex, left_ns) catch {
            if (!patience.exhausted(s)) continue;
            s.mutex.unlock();
            forceLost(s); // reports this child as lost, so `finished` holds below
            s.mutex.lock();
        };
    }
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
        // MSG_CTRUNC: the kernel could not give us every fd the frame carried; with a control
        // buffer for four, for frames that carry at most one, that means we are at our fd limit.
        const truncated = msg.flags & linux.MSG.CTRUNC != 0;
        const kind = std.mem.bytesToValue(protocol.Kind, frame[0..4]);
        if (kind == .spawned and n == @sizeOf(protocol.Spawned)) {
            const spawned = std.mem.bytesToValue(protocol.Spawned, frame[0..@sizeOf(protocol.Spawned)]);
            onSpawned(s, spawned, if (fds.len > 0) fds[0] else -1, truncated);
            for (fds[@min(fds.len, 1)..]) |fd| sys.close(fd);
        } else if (kind == .exited and n == @sizeOf(protocol.Exited)) {
            for (fds) |fd| sys.close(fd);
            onExited(s, std.mem.bytesToValue(protocol.Exited, &frame));
        } else {
            for (fds) |fd| sys.close(fd);
        }
    }
}

fn onSpawned(s: *Session, spawned: protocol.Spawned, pidfd: i32, truncated: bool) void {
    s.mutex.lock();
    defer s.mutex.unlock();
    defer s.cond.broadcast();
    // Only the request in flight is answered; anything else would be a helper bug.
    const waiting = spawned.tag < max_inflight and s.reply == null and switch (s.entries[spawned.tag].state) {
        .running, .running_sync => s.entries[spawned.tag].pidfd < 0,
        .free, .refused => false,
    };
    if (!waiting) {
        if (pidfd >= 0) sys.close(pidfd);
        return;
    }
    const e = &s.entries[spawned.tag];
    var reply = Reply{ .spawned = spawned, .pidfd = -1 };
    if (spawned.stage != .none) {
        if (pidfd >= 0) sys.close(pidfd);
        s.reply = reply;
        return;
    }
    // Without its pidfd a child cannot be signalled safely (its pid may be reused): refuse it.
    if (pidfd < 0) return refuse(s, e, &reply, if (truncated) EMFILE else sys.EINVAL);
    if (e.state == .running) {
        reply.id = reaper.addForeign(spawned.pid, pidfd) orelse {
            sys.close(pidfd);
            return refuse(s, e, &reply, sys.EAGAIN);
        };
    }
    e.id = reply.id;
    e.pid = spawned.pid;
    e.pidfd = pidfd;
    reply.pidfd = pidfd;
    s.reply = reply;
}

/// A child the helper started and we cannot take: its tag stays taken until its end is
/// reported; the spawn fails with `errno` and has the helper kill it. Called with s.mutex held.
fn refuse(s: *Session, e: *Entry, reply: *Reply, errno: i32) void {
    e.* = .{ .state = .refused };
    reply.spawned.stage = .resource;
    reply.spawned.errno = errno;
    reply.spawned.pid = -1;
    reply.refused = true;
    s.reply = reply.*;
}

fn onExited(s: *Session, exited: protocol.Exited) void {
    s.mutex.lock();
    defer s.mutex.unlock();
    if (exited.tag >= max_inflight) return;
    const tag: u16 = @intCast(exited.tag);
    const e = &s.entries[tag];
    switch (e.state) {
        .running => {
            // Not yet answered (pidfd -1) would mean an Exited before its Spawned: a helper bug,
            // and freeing the tag now would free it twice.
            if (e.pidfd < 0) return;
            reaper.postForeign(e.id, exited.completion);
            putTag(s, tag);
        },
        .running_sync => {
            if (e.pidfd < 0) return;
            e.completion = exited.completion;
            e.finished = true;
            s.cond.broadcast();
        },
        .refused => putTag(s, tag),
        .free => {},
    }
}

/// The helper is gone (it died, or it finished after close, or it is hung past our patience):
/// every child still ours was killed with it. Make sure of that through their pidfds, then
/// report each as killed by SIGKILL. Called with read_mutex held.
fn lost(s: *Session) void {
    _ = linux.epoll_ctl(epoll_fd, linux.EPOLL.CTL_DEL, s.sock, null);
    // The waiting happens without s.mutex (a sync caller may be waiting on it) and with one
    // bound for all: this is the reader thread of every container. `connected` stays true
    // until the end, so release() cannot free the entries meanwhile; their pidfds cannot go
    // either, since only frames (under read_mutex, ours) retire them.
    var dying: [max_inflight]i32 = undefined;
    var dying_count: usize = 0;
    s.mutex.lock();
    for (s.entries) |*e| if (hasLiveChild(e)) {
        _ = sys.pidfdSendSignal(e.pidfd, sys.SIGKILL);
        dying[dying_count] = e.pidfd;
        dying_count += 1;
    };
    s.mutex.unlock();
    const deadline_ms = nowMs() + lost_kill_wait_ms;
    for (dying[0..dying_count]) |pidfd| {
        var p = [1]linux.pollfd{.{ .fd = pidfd, .events = linux.POLL.IN, .revents = 0 }};
        _ = linux.poll(&p, 1, @intCast(std.math.clamp(deadline_ms - nowMs(), 0, lost_kill_wait_ms)));
    }
    s.mutex.lock();
    s.connected = false;
    for (s.entries, 0..) |*e, tag| {
        if (e.state == .refused) {
            putTag(s, @intCast(tag)); // its Exited will never come
            continue;
        }
        if (!hasLiveChild(e)) continue;
        var done = std.mem.zeroes(abi.Completion);
        done.pid = e.pid;
        done.exit_code = -1;
        done.signal = sys.SIGKILL;
        done.stage = lost_stage;
        done.errno = lost_errno;
        if (e.state == .running) {
            reaper.postForeign(e.id, done);
            putTag(s, @intCast(tag));
        } else {
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

/// A launched child whose end the helper has not reported (an entry still waiting for its
/// reply has no pidfd: its spawn frees it).
fn hasLiveChild(e: *const Entry) bool {
    return switch (e.state) {
        .running => e.pidfd >= 0,
        .running_sync => e.pidfd >= 0 and !e.finished,
        .free, .refused => false,
    };
}
