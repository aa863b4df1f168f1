//! The container end to end from Zig (no Bun): the built helper, real children, the reaper's ring.
const std = @import("std");
const engine = @import("engine");
const build_options = @import("build_options");
const abi = engine.abi;
const sys = engine.sys;
const launch = engine.launch;
const reaper = engine.reaper;
const protocol = engine.protocol;

const a = std.testing.allocator;
const helper_path: [*:0]const u8 = (build_options.helper_path ++ "\x00")[0..build_options.helper_path.len :0];

fn request(argv: []const []const u8, slots: []const abi.Slot) !std.ArrayListUnmanaged(u8) {
    var bytes: std.ArrayListUnmanaged(u8) = .{};
    const header = abi.RequestHeader{ .abi = abi.version, .flags = 0, .slot_count = @intCast(slots.len), .argc = @intCast(argv.len), .envc = 1 };
    try bytes.appendSlice(a, std.mem.asBytes(&header));
    for (slots) |s| try bytes.appendSlice(a, std.mem.asBytes(&s));
    // file, argv, then the one env entry.
    for (0..argv.len + 2) |i| {
        const s = if (i == 0) argv[0] else if (i <= argv.len) argv[i - 1] else "PATH=/usr/bin:/bin";
        try bytes.appendSlice(a, s);
        try bytes.append(a, 0);
    }
    return bytes;
}

var started = false;
fn open() !u32 {
    if (!started) {
        try std.testing.expectEqual(@as(i32, 0), launch.init());
        try std.testing.expectEqual(@as(i32, 0), reaper.init());
        started = true;
    }
    var out: abi.ContainerOpenResult = undefined;
    engine.open(helper_path, 2000, &out);
    if (out.stage != .none) std.debug.print("open stage {} errno {d}\n", .{ out.stage, out.errno });
    try std.testing.expectEqual(abi.Stage.none, out.stage);
    return out.session;
}

/// Polls the reaper's ring (no JS here) for the completion of `id`, bounded.
fn awaitCompletion(id: u32) !abi.Completion {
    var buf: [16]abi.Completion = undefined;
    for (0..5000) |_| {
        for (buf[0..reaper.drain(&buf)]) |c| if (c.id == id) return c;
        std.Thread.sleep(2 * std.time.ns_per_ms);
    }
    return error.Timeout;
}

const SpawnOut = extern struct { result: abi.SpawnResult, fds: [8]i32 };

test "a child through the helper: its pid, its exit status, its output" {
    const session = try open();
    defer engine.release(session);
    var req = try request(&.{ "/bin/sh", "-c", "echo out; echo err >&2; exit 7" }, &.{ .{ .kind = .ignore, .fd = -1 }, .{ .kind = .pipe, .fd = -1 }, .{ .kind = .pipe, .fd = -1 } });
    defer req.deinit(a);
    var sync_out: abi.SyncResult = undefined;
    var fds: [3]i32 = undefined;
    engine.spawnSync(session, req.items, &sync_out, &fds, .{});
    if (sync_out.stage != .none) std.debug.print("sync stage {} errno {d}\n", .{ sync_out.stage, sync_out.errno });
    try std.testing.expectEqual(abi.Stage.none, sync_out.stage);
    try std.testing.expectEqual(@as(i32, 7), sync_out.exit_code);
    const out = @as([*]u8, @ptrFromInt(sync_out.stdout_ptr))[0..sync_out.stdout_len];
    const err = @as([*]u8, @ptrFromInt(sync_out.stderr_ptr))[0..sync_out.stderr_len];
    try std.testing.expectEqualStrings("out\n", out);
    try std.testing.expectEqualStrings("err\n", err);
    std.c.free(out.ptr);
    std.c.free(err.ptr);

    var spawned: SpawnOut = undefined;
    var req2 = try request(&.{ "/bin/sh", "-c", "exit 3" }, &.{ .{ .kind = .ignore, .fd = -1 }, .{ .kind = .ignore, .fd = -1 }, .{ .kind = .ignore, .fd = -1 } });
    defer req2.deinit(a);
    engine.spawn(session, req2.items, &spawned.result, &spawned.fds);
    if (spawned.result.stage != .none) std.debug.print("async stage {} errno {d}\n", .{ spawned.result.stage, spawned.result.errno });
    try std.testing.expectEqual(abi.Stage.none, spawned.result.stage);
    const done = try awaitCompletion(spawned.result.id);
    try std.testing.expectEqual(@as(i32, 3), done.exit_code);
    try std.testing.expectEqual(spawned.result.pid, done.pid);
}

test "synchronous launch errors come back as from a direct spawn" {
    const session = try open();
    defer engine.release(session);
    var req = try request(&.{"/nonexistent/program"}, &.{ .{ .kind = .ignore, .fd = -1 }, .{ .kind = .ignore, .fd = -1 }, .{ .kind = .ignore, .fd = -1 } });
    defer req.deinit(a);
    var spawned: SpawnOut = undefined;
    engine.spawn(session, req.items, &spawned.result, &spawned.fds);
    try std.testing.expectEqual(abi.Stage.exec, spawned.result.stage);
    try std.testing.expectEqual(@as(i32, 2), spawned.result.errno);
    var bad = try request(&.{"/bin/true"}, &.{ .{ .kind = .ignore, .fd = -1 }, .{ .kind = .fd, .fd = 999 }, .{ .kind = .ignore, .fd = -1 } });
    defer bad.deinit(a);
    engine.spawn(session, bad.items, &spawned.result, &spawned.fds);
    try std.testing.expectEqual(abi.Stage.fd, spawned.result.stage);
    try std.testing.expectEqual(@as(i32, sys.EBADF), spawned.result.errno);
}

test "a helper killed mid-flight: its children are reported killed, and a new session works" {
    var out: abi.ContainerOpenResult = undefined;
    _ = try open();
    engine.open(helper_path, 2000, &out);
    const session = out.session;
    var req = try request(&.{ "/bin/sleep", "100" }, &.{ .{ .kind = .ignore, .fd = -1 }, .{ .kind = .ignore, .fd = -1 }, .{ .kind = .ignore, .fd = -1 } });
    defer req.deinit(a);
    var spawned: SpawnOut = undefined;
    engine.spawn(session, req.items, &spawned.result, &spawned.fds);
    try std.testing.expectEqual(abi.Stage.none, spawned.result.stage);
    try std.testing.expectEqual(@as(i32, 0), reaper.kill(out.helper_id, sys.SIGKILL));
    const done = try awaitCompletion(spawned.result.id);
    try std.testing.expectEqual(@as(i32, sys.SIGKILL), done.signal);
    try std.testing.expectEqual(engine.lost_stage, done.stage);
    try std.testing.expectEqual(engine.lost_errno, done.errno);
    // The dead session refuses with the "lost" code.
    engine.spawn(session, req.items, &spawned.result, &spawned.fds);
    try std.testing.expectEqual(engine.lost_stage, spawned.result.stage);
    try std.testing.expectEqual(engine.lost_errno, spawned.result.errno);
    engine.release(session);
}

test "a control buffer holds the kernel's maximum and reports what it received" {
    var buf: protocol.CmsgBuffer = undefined;
    buf.header = .{ .len = protocol.CmsgBuffer.lenFor(2), .level = protocol.SOL_SOCKET, .type = protocol.SCM_RIGHTS };
    buf.fds[0] = 7;
    buf.fds[1] = 9;
    try std.testing.expectEqualSlices(i32, &.{ 7, 9 }, buf.received(protocol.CmsgBuffer.spaceFor(2)));
    try std.testing.expectEqual(@as(usize, 0), buf.received(0).len);
    try std.testing.expect(protocol.CmsgBuffer.spaceFor(protocol.max_fds) <= @sizeOf(protocol.CmsgBuffer));
}

// ---------------------------------------------------------------------------------------------
// Hardening (issue 9): what happens when the helper, the kernel or our own limits misbehave.

const linux = std.os.linux;

fn openWith(options: engine.OpenOptions) !abi.ContainerOpenResult {
    engine.release(try open()); // starts the engine once
    var out: abi.ContainerOpenResult = undefined;
    engine.openWith(helper_path, 2000, options, &out);
    try std.testing.expectEqual(abi.Stage.none, out.stage);
    return out;
}

fn nowMs() i64 {
    var ts: linux.timespec = undefined;
    _ = linux.clock_gettime(.MONOTONIC, &ts);
    return @as(i64, ts.sec) * 1000 + @divTrunc(@as(i64, ts.nsec), 1_000_000);
}

/// Polls `condition` for at most 10 s (a hang guard for a loaded machine, not a timing goal).
fn eventually(context: anytype, comptime condition: fn (@TypeOf(context)) bool) bool {
    const deadline = nowMs() + 10_000;
    while (nowMs() < deadline) {
        if (condition(context)) return true;
        std.Thread.sleep(2 * std.time.ns_per_ms);
    }
    return condition(context);
}

/// The state letter of /proc/<pid>/stat ('T' once stopped), or 0 when it is gone.
fn procState(pid: i32) u8 {
    var path: [64]u8 = undefined;
    var buf: [512]u8 = undefined;
    const text = sys.readSmall(std.fmt.bufPrintZ(&path, "/proc/{d}/stat", .{pid}) catch return 0, &buf) orelse return 0;
    const at = std.mem.lastIndexOfScalar(u8, text, ')') orelse return 0;
    return if (at + 2 < text.len) text[at + 2] else 0;
}

/// The helper's children, from /proc/<pid>/task/<pid>/children (it is single-threaded).
fn childCount(pid: i32) usize {
    var path: [80]u8 = undefined;
    var buf: [4096]u8 = undefined;
    const text = sys.readSmall(std.fmt.bufPrintZ(&path, "/proc/{d}/task/{d}/children", .{ pid, pid }) catch return 0, &buf) orelse return 0;
    var it = std.mem.tokenizeAny(u8, text, " \n");
    var n: usize = 0;
    while (it.next()) |_| n += 1;
    return n;
}

/// Whether a frame waits in the helper's receive queue (`copy`: a copy of its end).
fn requestQueued(copy: i32) bool {
    var pending: i32 = 0;
    const FIONREAD = 0x541B;
    return sys.errnoOf(sys.ioctl(copy, FIONREAD, @intFromPtr(&pending))) == 0 and pending > 0;
}

/// Stops the helper once it serves (open() returns at clone, before its exec and setup: until
/// then its fd 3 is not even its socket).
fn stop(pid: i32) !void {
    try std.testing.expect(eventually(pid, struct {
        fn f(p: i32) bool {
            var path: [64]u8 = undefined;
            var buf: [64]u8 = undefined;
            const wchan = sys.readSmall(std.fmt.bufPrintZ(&path, "/proc/{d}/wchan", .{p}) catch return false, &buf) orelse return false;
            return std.mem.eql(u8, wchan, "do_epoll_wait");
        }
    }.f));
    _ = linux.kill(pid, linux.SIG.STOP);
    try std.testing.expect(eventually(pid, struct {
        fn f(p: i32) bool {
            return procState(p) == 'T';
        }
    }.f));
}

/// A spawn run on a thread of its own, so that a spawn that hangs fails the test (bounded)
/// instead of hanging it. A thread that never returns is left behind: the test has failed.
const Background = struct {
    session: u32,
    req: []const u8,
    out: SpawnOut = undefined,
    done: std.atomic.Value(bool) = .init(false),

    fn run(self: *Background) void {
        engine.spawn(self.session, self.req, &self.out.result, &self.out.fds);
        self.done.store(true, .release);
    }

    fn start(self: *Background) !void {
        const t = try std.Thread.spawn(.{}, run, .{self});
        t.detach();
    }

    fn finished(self: *Background) bool {
        return eventually(self, struct {
            fn f(b: *Background) bool {
                return b.done.load(.acquire);
            }
        }.f);
    }
};

const ignore3 = [_]abi.Slot{ .{ .kind = .ignore, .fd = -1 }, .{ .kind = .ignore, .fd = -1 }, .{ .kind = .ignore, .fd = -1 } };

/// Spawns `req` through the stopped helper while our fd table is full, so that only the pidfd in
/// the reply finds no place (the spawn's own fds are sent and closed by then); returns its result.
fn spawnWithFullTable(helper_pid: i32, session: u32, req: []const u8) !SpawnOut {
    try stop(helper_pid);
    // Our copy of the helper's end tells us when the request is queued there.
    const helper_pidfd = sys.asFd(linux.pidfd_open(helper_pid, 0));
    defer sys.close(helper_pidfd);
    const helper_end = sys.asFd(linux.pidfd_getfd(helper_pidfd, protocol.helper_socket_fd, 0));
    try std.testing.expect(helper_end >= 0);
    const probe = sys.asFd(sys.dupfdCloexec(0, 0));
    sys.close(probe); // the lowest free fd: the only one the limit below leaves us
    var old: sys.Rlimit64 = undefined;
    _ = sys.prlimit(sys.RLIMIT_NOFILE, null, &old);
    var low = old;
    low.cur = @intCast(probe + 1);
    try std.testing.expectEqual(@as(i32, 0), sys.errnoOf(sys.prlimit(sys.RLIMIT_NOFILE, &low, null)));
    defer _ = sys.prlimit(sys.RLIMIT_NOFILE, &old, null);
    var bg = Background{ .session = session, .req = req };
    try bg.start();
    try std.testing.expect(eventually(helper_end, requestQueued));
    // The spawn's cwd fd took `probe`, and closes it right after the send.
    try std.testing.expect(eventually(probe, struct {
        fn f(fd: i32) bool {
            return sys.errnoOf(sys.fcntl(fd, sys.F_GETFD, 0)) != 0;
        }
    }.f));
    sys.close(helper_end);
    var fillers: [8]i32 = undefined;
    var filler_count: usize = 0;
    while (filler_count < fillers.len) : (filler_count += 1) {
        const rc = sys.openat(sys.AT_FDCWD, "/dev/null", sys.O_RDONLY | sys.O_CLOEXEC);
        if (sys.errnoOf(rc) != 0) break;
        fillers[filler_count] = sys.asFd(rc);
    }
    defer for (fillers[0..filler_count]) |fd| sys.close(fd);
    try std.testing.expect(filler_count < fillers.len); // the table is full now
    _ = linux.kill(helper_pid, linux.SIG.CONT);
    try std.testing.expect(bg.finished());
    return bg.out;
}

test "a child whose pidfd we cannot receive (EMFILE) is refused with EMFILE, killed by the helper, and its late end never reaches the next spawn" {
    const out = try openWith(.{});
    const session = out.session;
    defer engine.release(session);
    var flag_buf: [64]u8 = undefined;
    const flag = try std.fmt.bufPrint(&flag_buf, "/tmp/forkless-refused-{d}", .{linux.getpid()});
    var script_buf: [160]u8 = undefined;
    // It would outlive the refusal, then end with 42 once the flag exists: in the next spawn's tag.
    const script = try std.fmt.bufPrint(&script_buf, "while [ ! -e {s} ]; do sleep 0.02; done; exit 42", .{flag});
    var refused_req = try request(&.{ "/bin/sh", "-c", script }, &ignore3);
    defer refused_req.deinit(a);

    // A full fd table is this process's, and another thread (the reaper ending an earlier test's
    // child, the reader freeing an earlier session) may free a slot while it should be full: the
    // pidfd then lands and the spawn succeeds, which a full table cannot give. That attempt
    // proves nothing; its child is ended and the scenario runs again (at most 5 times).
    var attempt: usize = 0;
    const refused = while (attempt < 5) : (attempt += 1) {
        const got = try spawnWithFullTable(out.helper_pid, session, refused_req.items);
        if (got.result.stage != .none) break got;
        _ = reaper.kill(got.result.id, linux.SIG.KILL);
        _ = try awaitCompletion(got.result.id);
    } else return error.TableNeverStayedFull;
    try std.testing.expectEqual(abi.Stage.resource, refused.result.stage);
    try std.testing.expectEqual(@as(i32, 24), refused.result.errno); // EMFILE, as the kernel had it

    // The helper was told to kill it: nothing of it is left.
    try std.testing.expect(eventually(out.helper_pid, struct {
        fn f(pid: i32) bool {
            return childCount(pid) == 0;
        }
    }.f));
    // The next spawn: the refused child's end (had it lived on) must not be taken for its own.
    var next_req = try request(&.{ "/bin/sleep", "100" }, &ignore3);
    defer next_req.deinit(a);
    var next: SpawnOut = undefined;
    engine.spawn(session, next_req.items, &next.result, &next.fds);
    try std.testing.expectEqual(abi.Stage.none, next.result.stage);
    const flag_z = try std.fmt.bufPrintZ(&script_buf, "{s}", .{flag});
    sys.close(sys.asFd(sys.openat(sys.AT_FDCWD, flag_z, sys.O_WRONLY | sys.O_CLOEXEC | 0o100)));
    defer _ = linux.unlink(flag_z);
    try std.testing.expect(eventually(out.helper_pid, struct {
        fn f(pid: i32) bool {
            return childCount(pid) == 1; // the sleep alone
        }
    }.f));
    try std.testing.expectEqual(@as(i32, 0), reaper.kill(next.result.id, linux.SIG.TERM));
    const done = try awaitCompletion(next.result.id);
    try std.testing.expectEqual(next.result.pid, done.pid);
    try std.testing.expectEqual(@as(i32, linux.SIG.TERM), done.signal);
}

/// Every child of this process (zombies too), from /proc/self/task/*/children.
fn ourChildren(out: *std.AutoHashMapUnmanaged(i32, void)) !void {
    var dir = try std.fs.openDirAbsolute("/proc/self/task", .{ .iterate = true });
    defer dir.close();
    var it = dir.iterate();
    while (try it.next()) |entry| {
        var path: [80]u8 = undefined;
        var buf: [8192]u8 = undefined;
        const text = sys.readSmall(try std.fmt.bufPrintZ(&path, "/proc/self/task/{s}/children", .{entry.name}), &buf) orelse continue;
        var pids = std.mem.tokenizeAny(u8, text, " \n");
        while (pids.next()) |word| try out.put(a, try std.fmt.parseInt(i32, word, 10), {});
    }
}

test "a helper the reaper cannot take is killed, reaped and released: no zombie, no leaked launch" {
    engine.release(try open());
    var before: std.AutoHashMapUnmanaged(i32, void) = .{};
    defer before.deinit(a);
    try ourChildren(&before);
    // Fill the reaper's table with placeholders (foreign entries: never watched, never signalled).
    var ids: std.ArrayListUnmanaged(u32) = .{};
    defer ids.deinit(a);
    while (reaper.addForeign(0, -1)) |id| try ids.append(a, id);
    var out: abi.ContainerOpenResult = undefined;
    engine.open(helper_path, 2000, &out);
    for (ids.items) |id| reaper.postForeign(id, std.mem.zeroes(abi.Completion));
    var buf: [256]abi.Completion = undefined;
    while (reaper.drain(&buf) > 0) {}
    try std.testing.expectEqual(abi.Stage.resource, out.stage);
    try std.testing.expectEqual(@as(i32, sys.EAGAIN), out.errno);
    // Reaped before open() returned: no child of ours is new, not even a zombie.
    var after: std.AutoHashMapUnmanaged(i32, void) = .{};
    defer after.deinit(a);
    try ourChildren(&after);
    var new_children = after.keyIterator();
    while (new_children.next()) |pid| try std.testing.expect(before.contains(pid.*));
    // And the engine still launches.
    engine.release(try open());
}

test "a helper silent past our patience whose end we cannot see (someone holds its socket): the spawn gives up, bounded" {
    const saved = engine.helper_patience_ms;
    engine.helper_patience_ms = 300; // the helper is stopped: it cannot answer in any time
    defer engine.helper_patience_ms = saved;
    const out = try openWith(.{});
    defer engine.release(out.session);
    try stop(out.helper_pid);
    // Our copy of its end: its death gives no EOF, as for a helper stuck in D state.
    const helper_pidfd = sys.asFd(linux.pidfd_open(out.helper_pid, 0));
    defer sys.close(helper_pidfd);
    const copy = sys.asFd(linux.pidfd_getfd(helper_pidfd, protocol.helper_socket_fd, 0));
    try std.testing.expect(copy >= 0);
    defer sys.close(copy);
    var req = try request(&.{"/bin/true"}, &ignore3);
    defer req.deinit(a);
    var bg = Background{ .session = out.session, .req = req.items };
    try bg.start();
    try std.testing.expect(bg.finished());
    try std.testing.expectEqual(engine.lost_stage, bg.out.result.stage);
    try std.testing.expectEqual(engine.lost_errno, bg.out.result.errno);
    // It was SIGKILLed on the way (a stopped process dies of SIGKILL too).
    try std.testing.expect(eventually(out.helper_pid, struct {
        fn f(pid: i32) bool {
            const state = procState(pid);
            return state == 0 or state == 'Z';
        }
    }.f));
}

test "control against a stopped helper: once its socket is full, the call fails (bounded) instead of blocking forever" {
    const saved = engine.helper_patience_ms;
    engine.helper_patience_ms = 300;
    defer engine.helper_patience_ms = saved;
    const out = try openWith(.{});
    defer engine.release(out.session);
    try stop(out.helper_pid);
    const Flood = struct {
        session: u32,
        errno: i32 = 0,
        done: std.atomic.Value(bool) = .init(false),
        fn run(self: *@This()) void {
            // Signal 0 harms nothing; each frame waits in the stopped helper's queue.
            for (0..1_000_000) |_| {
                self.errno = engine.control(self.session, .kill_all, 0);
                if (self.errno != 0) break;
            }
            self.done.store(true, .release);
        }
        fn finished(self: *@This()) bool {
            return self.done.load(.acquire);
        }
    };
    var flood = Flood{ .session = out.session };
    (try std.Thread.spawn(.{}, Flood.run, .{&flood})).detach();
    try std.testing.expect(eventually(&flood, Flood.finished));
    // ETIMEDOUT, or ECONNRESET/EPIPE once the SIGKILL it earned has closed the helper's end.
    try std.testing.expect(flood.errno == 110 or flood.errno == 104 or flood.errno == 32);
    var req = try request(&.{"/bin/true"}, &ignore3);
    defer req.deinit(a);
    var spawned: SpawnOut = undefined;
    engine.spawn(out.session, req.items, &spawned.result, &spawned.fds);
    try std.testing.expectEqual(engine.lost_stage, spawned.result.stage);
}

test "spawnSync whose helper stops before reporting the end: the report is awaited within our patience, then the child counts as lost" {
    const saved = engine.helper_patience_ms;
    engine.helper_patience_ms = 300;
    defer engine.helper_patience_ms = saved;
    const out = try openWith(.{});
    defer engine.release(out.session);
    // The child stops its parent (the helper) and ends: nobody reaps or reports it.
    var req = try request(&.{ "/bin/sh", "-c", "kill -STOP $PPID" }, &ignore3);
    defer req.deinit(a);
    const Sync = struct {
        session: u32,
        req: []const u8,
        out: abi.SyncResult = undefined,
        done: std.atomic.Value(bool) = .init(false),
        fn run(self: *@This()) void {
            var fds: [3]i32 = undefined;
            engine.spawnSync(self.session, self.req, &self.out, &fds, .{});
            self.done.store(true, .release);
        }
        fn finished(self: *@This()) bool {
            return self.done.load(.acquire);
        }
    };
    var sync_run = Sync{ .session = out.session, .req = req.items };
    (try std.Thread.spawn(.{}, Sync.run, .{&sync_run})).detach();
    try std.testing.expect(eventually(&sync_run, Sync.finished));
    try std.testing.expectEqual(engine.lost_stage, sync_run.out.stage);
    try std.testing.expectEqual(engine.lost_errno, sync_run.out.errno);
}

test "a request larger than a socket buffer capped by wmem_max (its default, 212992 bytes) travels whole" {
    const out = try openWith(.{ .send_buffer_bytes = 212992 });
    defer engine.release(out.session);
    // Six variables of 100 KB (one string may not exceed 128 KiB at execve).
    var argv: std.ArrayListUnmanaged(u8) = .{};
    defer argv.deinit(a);
    var bytes: std.ArrayListUnmanaged(u8) = .{};
    defer bytes.deinit(a);
    const header = abi.RequestHeader{ .abi = abi.version, .flags = 0, .slot_count = 3, .argc = 3, .envc = 6 };
    try bytes.appendSlice(a, std.mem.asBytes(&header));
    const slots = [_]abi.Slot{ .{ .kind = .ignore, .fd = -1 }, .{ .kind = .pipe, .fd = -1 }, .{ .kind = .ignore, .fd = -1 } };
    try bytes.appendSlice(a, std.mem.sliceAsBytes(&slots));
    try bytes.appendSlice(a, "/bin/sh\x00sh\x00-c\x00printf %s \"$B0$B1$B2$B3$B4$B5\" | /usr/bin/wc -c\x00");
    for (0..6) |i| {
        try bytes.writer(a).print("B{d}=", .{i});
        try bytes.appendNTimes(a, 'x', 100_000);
        try bytes.append(a, 0);
    }
    var sync_out: abi.SyncResult = undefined;
    var fds: [3]i32 = undefined;
    engine.spawnSync(out.session, bytes.items, &sync_out, &fds, .{});
    if (sync_out.stage != .none) std.debug.print("sync stage {} errno {d}\n", .{ sync_out.stage, sync_out.errno });
    try std.testing.expectEqual(abi.Stage.none, sync_out.stage);
    const got = @as([*]u8, @ptrFromInt(sync_out.stdout_ptr))[0..sync_out.stdout_len];
    defer std.c.free(got.ptr);
    try std.testing.expectEqualStrings("600000\n", got);
}
