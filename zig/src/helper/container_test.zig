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
