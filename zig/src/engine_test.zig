//! The child path and the reaper, tested by launching real processes from Zig (no Bun).
const std = @import("std");
const abi = @import("abi.zig");
const launch = @import("launch.zig");
const reaper = @import("reaper.zig");
const sync = @import("sync.zig");
const sys = @import("sys.zig");

const Req = struct {
    bytes: std.ArrayListUnmanaged(u8) = .{},

    fn init(file: []const u8, argv: []const []const u8, env: []const []const u8, cwd: ?[]const u8, slots: []const abi.Slot, flags: u32) !Req {
        var r = Req{};
        const a = std.testing.allocator;
        const header = abi.RequestHeader{
            .abi = abi.version,
            .flags = flags | (if (cwd != null) abi.flag_cwd else 0),
            .slot_count = @intCast(slots.len),
            .argc = @intCast(argv.len),
            .envc = @intCast(env.len),
        };
        try r.bytes.appendSlice(a, std.mem.asBytes(&header));
        for (slots) |s| try r.bytes.appendSlice(a, std.mem.asBytes(&s));
        const put = struct {
            fn f(list: *std.ArrayListUnmanaged(u8), s: []const u8) !void {
                try list.appendSlice(std.testing.allocator, s);
                try list.append(std.testing.allocator, 0);
            }
        }.f;
        try put(&r.bytes, file);
        if (cwd) |c| try put(&r.bytes, c);
        for (argv) |s| try put(&r.bytes, s);
        for (env) |s| try put(&r.bytes, s);
        return r;
    }
    fn deinit(r: *Req) void {
        r.bytes.deinit(std.testing.allocator);
    }
};

const std_slots = [_]abi.Slot{ .{ .kind = .ignore, .fd = -1 }, .{ .kind = .pipe, .fd = -1 }, .{ .kind = .pipe, .fd = -1 } };

var engine_started = false;
fn startEngine() !void {
    if (engine_started) return;
    try std.testing.expectEqual(@as(i32, 0), launch.init());
    try std.testing.expectEqual(@as(i32, 0), reaper.init());
    engine_started = true;
}

fn runSync(file: []const u8, argv: []const []const u8, env: []const []const u8, cwd: ?[]const u8, slots: []const abi.Slot) !struct { r: abi.SyncResult, out: []u8, err: []u8 } {
    try startEngine();
    var req = try Req.init(file, argv, env, cwd, slots, 0);
    defer req.deinit();
    var fds: [8]i32 = undefined;
    var result: abi.SyncResult = undefined;
    sync.run(req.bytes.items, fds[0..slots.len], &result, null);
    const out: []u8 = if (result.stdout_ptr != 0) @as([*]u8, @ptrFromInt(result.stdout_ptr))[0..result.stdout_len] else &.{};
    const err: []u8 = if (result.stderr_ptr != 0) @as([*]u8, @ptrFromInt(result.stderr_ptr))[0..result.stderr_len] else &.{};
    return .{ .r = result, .out = out, .err = err };
}

fn freeOut(x: anytype) void {
    if (x.out.len > 0) std.c.free(x.out.ptr);
    if (x.err.len > 0) std.c.free(x.err.ptr);
}

test "child: exact fds, empty signal state, env and cwd" {
    const x = try runSync("/bin/sh", &.{ "sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '; cat /proc/self/status | grep -E '^Sig(Blk|Ign|Cgt)' | tr -d '\\t\\n'; echo; pwd; echo $FOO" }, &.{"FOO=bar baz"}, "/tmp", &std_slots);
    defer freeOut(x);
    try std.testing.expectEqual(abi.Stage.none, x.r.stage);
    try std.testing.expectEqual(@as(i32, 0), x.r.exit_code);
    // ls itself holds fd 3 (its directory) while listing.
    try std.testing.expectEqualStrings("0 1 2 3 SigBlk:0000000000000000SigIgn:0000000000000000SigCgt:0000000000000000\n/tmp\nbar baz\n", x.out);
}

test "child: exit code, signal, stderr" {
    const a = try runSync("/bin/sh", &.{ "sh", "-c", "echo oops >&2; exit 7" }, &.{}, null, &std_slots);
    defer freeOut(a);
    try std.testing.expectEqual(@as(i32, 7), a.r.exit_code);
    try std.testing.expectEqualStrings("oops\n", a.err);
    const b = try runSync("/bin/sh", &.{ "sh", "-c", "kill -TERM $$" }, &.{}, null, &std_slots);
    defer freeOut(b);
    try std.testing.expectEqual(@as(i32, -1), b.r.exit_code);
    try std.testing.expectEqual(@as(i32, 15), b.r.signal);
}

test "launch: missing file, directory, missing cwd fail before clone with no fd left behind" {
    const before = try countFds();
    const a = try runSync("/nonexistent/x", &.{"x"}, &.{}, null, &std_slots);
    try std.testing.expectEqual(abi.Stage.exec, a.r.stage);
    try std.testing.expectEqual(@as(i32, 2), a.r.errno);
    const b = try runSync("/tmp", &.{"x"}, &.{}, null, &std_slots);
    try std.testing.expectEqual(abi.Stage.exec, b.r.stage);
    try std.testing.expectEqual(@as(i32, sys.EACCES), b.r.errno);
    const c = try runSync("/bin/true", &.{"true"}, &.{}, "/nonexistent", &std_slots);
    try std.testing.expectEqual(abi.Stage.cwd, c.r.stage);
    const d = try runSync("/bin/true", &.{"true"}, &.{}, null, &.{ .{ .kind = .fd, .fd = 999 }, .{ .kind = .pipe, .fd = -1 }, .{ .kind = .pipe, .fd = -1 } });
    try std.testing.expectEqual(abi.Stage.fd, d.r.stage);
    try std.testing.expectEqual(before, try countFds());
}

test "child: extra slot at 5 from a parent fd without O_CLOEXEC; nothing else leaks" {
    const leak = sys.asFd(sys.openat(sys.AT_FDCWD, "/dev/null", sys.O_RDONLY));
    defer sys.close(leak);
    const slots = [_]abi.Slot{ std_slots[0], std_slots[1], std_slots[2], .{ .kind = .none, .fd = -1 }, .{ .kind = .none, .fd = -1 }, .{ .kind = .fd, .fd = leak } };
    const x = try runSync("/bin/sh", &.{ "sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '; readlink /proc/self/fd/5" }, &.{}, null, &slots);
    defer freeOut(x);
    try std.testing.expectEqualStrings("0 1 2 3 5 /dev/null\n", x.out);
}

test "reaper: async children are reaped by pidfd and reported" {
    try startEngine();
    const n = 50;
    var ids: [n]u32 = undefined;
    for (0..n) |i| {
        var buf: [16]u8 = undefined;
        const code = try std.fmt.bufPrint(&buf, "exit {d}", .{i});
        var req = try Req.init("/bin/sh", &.{ "sh", "-c", code }, &.{}, null, &.{ .{ .kind = .ignore, .fd = -1 }, .{ .kind = .ignore, .fd = -1 }, .{ .kind = .ignore, .fd = -1 } }, 0);
        defer req.deinit();
        var fds: [3]i32 = undefined;
        const l = switch (launch.start(req.bytes.items, &fds, false, null)) {
            .ok => |l| l,
            .failed => return error.LaunchFailed,
        };
        ids[i] = reaper.add(l).?;
    }
    var seen: usize = 0;
    var out: [8]abi.Completion = undefined;
    while (seen < n) {
        const got = reaper.drain(&out);
        for (out[0..got]) |c| {
            const i = std.mem.indexOfScalar(u32, &ids, c.id).?;
            try std.testing.expectEqual(@as(i32, @intCast(i)), c.exit_code);
            seen += 1;
        }
        if (got == 0) std.Thread.sleep(1 * std.time.ns_per_ms);
    }
}

fn countFds() !usize {
    var dir = try std.fs.openDirAbsolute("/proc/self/fd", .{ .iterate = true });
    defer dir.close();
    var it = dir.iterate();
    var n: usize = 0;
    while (try it.next()) |_| n += 1;
    return n;
}

test "template: argv and env from the template, overlay args and env overrides, close while running" {
    try startEngine();
    var base = try Req.init("/bin/sh", &.{ "sh", "-c", "echo \"$A $B $C $0 $1\"" }, &.{ "A=1", "B=2" }, "/tmp", &.{}, 0);
    defer base.deinit();
    var result: abi.SpawnResult = undefined;
    const t = switch (launch.Template.create(base.bytes.items)) {
        .ok => |t| t,
        .failed => return error.TemplateFailed,
    };
    for (0..3) |round| {
        var overlay = try Req.init("", if (round == 2) &.{} else &.{ "x", "y" }, if (round == 1) &.{ "B=two", "C=3" } else &.{}, null, &std_slots, 0);
        defer overlay.deinit();
        var fds: [3]i32 = undefined;
        var r: abi.SyncResult = undefined;
        sync.run(overlay.bytes.items, &fds, &r, t);
        defer if (r.stdout_ptr != 0) std.c.free(@ptrFromInt(r.stdout_ptr));
        const out = @as([*]u8, @ptrFromInt(r.stdout_ptr))[0..r.stdout_len];
        const want = switch (round) {
            0 => "1 2  x y\n",
            1 => "1 two 3 x y\n",
            else => "1 2  sh \n", // no extra args: $0 is the shell itself
        };
        try std.testing.expectEqualStrings(want, out);
    }
    _ = &result;
    t.unref();
}
