//! The fd plan: give the child exactly its slots (fd i = the parent's fd sources[i]) and make
//! every other fd vanish at exec. Generic over the system so the same code runs in the child
//! (raw syscalls) and in an exhaustive test against a simulated fd table. It never allocates.
const std = @import("std");
const sys = @import("sys.zig");

/// The real system, as the child sees it. Every call is one raw syscall.
pub const Real = struct {
    pub fn dupfdCloexec(_: *Real, fd: i32, min: i32) usize {
        return sys.dupfdCloexec(fd, min);
    }
    pub fn dup2(_: *Real, src: i32, dst: i32) usize {
        return sys.dup2(src, dst);
    }
    pub fn setCloexec(_: *Real, fd: i32, on: bool) usize {
        return sys.setCloexec(fd, on);
    }
    pub fn cloexecRange(_: *Real, first: u32, last: u32) usize {
        return sys.closeRangeCloexec(first, last);
    }
    /// The fallback where close_range(CLOSE_RANGE_CLOEXEC) is missing (before Linux 5.11):
    /// walk /proc/self/fd and mark every fd that is not a slot. The buffer lives on the child's
    /// stack; the directory fd is O_CLOEXEC and goes away at exec like the rest.
    pub fn cloexecAllExcept(_: *Real, sources: []const i32) usize {
        const dir = sys.openat(sys.AT_FDCWD, "/proc/self/fd", sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC);
        if (sys.errnoOf(dir) != 0) return dir;
        const dir_fd = sys.asFd(dir);
        defer sys.close(dir_fd);
        var buf: [2048]u8 align(8) = undefined;
        while (true) {
            const n = sys.getdents64(dir_fd, &buf, buf.len);
            if (sys.errnoOf(n) != 0) return n;
            if (n == 0) return 0;
            var off: usize = 0;
            while (off < n) {
                const reclen = std.mem.readInt(u16, buf[off + 16 ..][0..2], .little);
                const fd = parseFd(std.mem.sliceTo(buf[off + 19 ..], 0));
                off += reclen;
                if (fd < 0 or fd == dir_fd or isSlot(sources, fd)) continue;
                _ = sys.setCloexec(fd, true);
            }
        }
    }
};

fn parseFd(name: []const u8) i32 {
    if (name.len == 0 or name.len > 9) return -1;
    var v: i32 = 0;
    for (name) |c| {
        if (c < '0' or c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    return v;
}

fn isSlot(sources: []const i32, fd: i32) bool {
    return fd < sources.len and sources[@intCast(fd)] >= 0;
}

/// Applies the plan. `sources[i]` is the fd to place at i (-1: nothing at i); it is scratch and
/// is rewritten. Returns 0 or the errno of the failed step. No fd of the engine's needs to
/// survive it: a failure is reported through memory, not a pipe (child.zig).
pub fn apply(system: anytype, sources: []i32) i32 {
    std.debug.assert(sources.len > 0);
    const top: i32 = @intCast(sources.len); // the first fd above every slot

    // Anything a dup2 below could overwrite must first move above every slot: each source that
    // sits inside the slot range at a number other than its own slot.
    for (sources, 0..) |*src, i| {
        if (src.* < 0 or src.* == i or src.* >= top) continue;
        const moved = system.dupfdCloexec(src.*, top);
        if (sys.errnoOf(moved) != 0) return sys.errnoOf(moved);
        src.* = sys.asFd(moved);
    }

    // Into place. dup2 clears FD_CLOEXEC on its target; a source already in place keeps its
    // flags, so clear it by hand or exec would close it.
    for (sources, 0..) |src, i| {
        if (src < 0) continue;
        const rc = if (src == i) system.setCloexec(src, false) else system.dup2(src, @intCast(i));
        if (sys.errnoOf(rc) != 0) return sys.errnoOf(rc);
    }

    // Everything else, gaps between slots included, is closed by execve itself: marking is
    // cheaper than closing here (the kernel closes them once, at exec).
    var first: u32 = 0;
    while (first <= sources.len) {
        while (first < sources.len and sources[first] >= 0) first += 1;
        var last: u32 = first;
        while (last < sources.len and sources[last] < 0) last += 1;
        const end: u32 = if (last == sources.len) std.math.maxInt(u32) else last - 1;
        const rc = system.cloexecRange(first, end);
        const err = sys.errnoOf(rc);
        if (err == sys.ENOSYS or err == sys.EINVAL) return @intCast(sys.errnoOf(system.cloexecAllExcept(sources)));
        if (err != 0) return err;
        if (end == std.math.maxInt(u32)) break;
        first = last;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Exhaustive test against a simulated fd table.

const Sim = struct {
    const cap = 16;
    const Entry = struct { file: i32 = -1, cloexec: bool = false };
    table: [cap]Entry = [_]Entry{.{}} ** cap,
    has_close_range: bool = true,

    fn open(s: *Sim, fd: i32) bool {
        return fd >= 0 and fd < cap and s.table[@intCast(fd)].file >= 0;
    }
    fn fail(e: usize) usize {
        return @bitCast(-@as(isize, @intCast(e)));
    }
    pub fn dupfdCloexec(s: *Sim, fd: i32, min: i32) usize {
        if (!s.open(fd)) return fail(sys.EBADF);
        var n: usize = @intCast(min);
        while (n < cap) : (n += 1) if (s.table[n].file < 0) {
            s.table[n] = .{ .file = s.table[@intCast(fd)].file, .cloexec = true };
            return n;
        };
        return fail(24); // EMFILE
    }
    pub fn dup2(s: *Sim, src: i32, dst: i32) usize {
        if (!s.open(src) or dst < 0 or dst >= cap) return fail(sys.EBADF);
        s.table[@intCast(dst)] = .{ .file = s.table[@intCast(src)].file, .cloexec = false };
        return @intCast(dst);
    }
    pub fn setCloexec(s: *Sim, fd: i32, on: bool) usize {
        if (!s.open(fd)) return fail(sys.EBADF);
        s.table[@intCast(fd)].cloexec = on;
        return 0;
    }
    pub fn cloexecRange(s: *Sim, first: u32, last: u32) usize {
        if (!s.has_close_range) return fail(sys.ENOSYS);
        var fd = first;
        while (fd <= last and fd < cap) : (fd += 1) s.table[fd].cloexec = true;
        return 0;
    }
    pub fn cloexecAllExcept(s: *Sim, sources: []const i32) usize {
        for (&s.table, 0..) |*e, fd| {
            if (e.file >= 0 and !isSlot(sources, @intCast(fd))) e.cloexec = true;
        }
        return 0;
    }
};

// Open-fd sets over fds 0..5, slot maps of 1..5 slots with sources in {none, 0..6} (6 is never
// open), with and without close_range.
test "fd plan: every small fd map gives exactly the slots, nothing else survives exec" {
    const fds = 6;
    var cases: usize = 0;
    for (0..2) |with_close_range| for (0..(1 << fds)) |open_mask| for (1..6) |nslots| {
        const combos = std.math.pow(usize, fds + 2, nslots);
        for (0..combos) |combo| {
            var sim = Sim{ .has_close_range = with_close_range == 1 };
            for (0..fds) |fd| if (open_mask & (@as(usize, 1) << @intCast(fd)) != 0) {
                sim.table[fd] = .{ .file = @intCast(100 + fd), .cloexec = fd % 2 == 0 };
            };

            var sources: [5]i32 = undefined;
            var want: [5]i32 = undefined; // the file each slot must hold, -1 for none
            var all_open = true;
            var c = combo;
            for (0..nslots) |i| {
                const pick: i32 = @intCast(c % (fds + 2));
                c /= fds + 2;
                sources[i] = pick - 1;
                want[i] = if (pick == 0) -1 else if (sim.open(pick - 1)) sim.table[@intCast(pick - 1)].file else -2;
                if (want[i] == -2) all_open = false;
            }
            // A closed source never reaches the child: the parent checks every source with
            // F_GETFD before clone (engine_test covers that error).
            if (!all_open) continue;
            const err = apply(&sim, sources[0..nslots]);
            try std.testing.expectEqual(@as(i32, 0), err);
            for (sim.table, 0..) |e, fd| {
                if (fd < nslots and want[fd] >= 0) {
                    try std.testing.expectEqual(want[fd], e.file);
                    try std.testing.expect(!e.cloexec);
                } else if (e.file >= 0) {
                    try std.testing.expect(e.cloexec); // gone at exec
                }
            }
            cases += 1;
        }
    };
    try std.testing.expect(cases > 100_000);
}

test "fd plan: parseFd reads /proc/self/fd names" {
    try std.testing.expectEqual(@as(i32, 0), parseFd("0"));
    try std.testing.expectEqual(@as(i32, 20001), parseFd("20001"));
    try std.testing.expectEqual(@as(i32, -1), parseFd("."));
    try std.testing.expectEqual(@as(i32, -1), parseFd(".."));
}

test "fd plan: the /proc/self/fd walk marks every fd but the slots (the close_range fallback)" {
    // Runs in the test process itself: it only sets FD_CLOEXEC, which the test then undoes.
    const a = sys.asFd(sys.openat(sys.AT_FDCWD, "/dev/null", sys.O_RDONLY));
    const b = sys.asFd(sys.openat(sys.AT_FDCWD, "/dev/null", sys.O_RDONLY));
    defer sys.close(a);
    defer sys.close(b);
    var sources: [64]i32 = [_]i32{-1} ** 64;
    if (a >= sources.len or b >= sources.len) return error.SkipZigTest;
    sources[@intCast(a)] = a; // a is a slot, b is not
    var real = Real{};
    try std.testing.expectEqual(@as(usize, 0), real.cloexecAllExcept(&sources));
    try std.testing.expectEqual(@as(usize, 0), sys.fcntl(a, sys.F_GETFD, 0));
    try std.testing.expectEqual(@as(usize, sys.FD_CLOEXEC), sys.fcntl(b, sys.F_GETFD, 0));
}
