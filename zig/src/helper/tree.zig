//! The helper's descendants, found through /proc/<pid>/task/<tid>/children (parents before their
//! children), and signalled. A walk is bounded; what it misses is caught by the next one, since
//! every orphan of the tree is reparented to the helper (a subreaper) and so found again.
//! Left out: kernels without CONFIG_PROC_CHILDREN (then only the helper's own children are seen
//! at each round; the SIGKILL rounds still converge as each generation is orphaned onto us).
const std = @import("std");
const linux = std.os.linux;
const engine = @import("engine");
const sys = engine.sys;

/// The most processes one walk visits.
pub const max_walk = 4096;

/// Sends `sig` to every descendant this walk finds. Each one's children are listed before it
/// is signalled, so a SIGKILL cannot hide them by reparenting them mid-walk.
pub fn signalAll(sig: i32) void {
    var queue: [max_walk]i32 = undefined;
    var len: usize = 0;
    const self = linux.getpid();
    appendChildren(self, &queue, &len);
    var i: usize = 0;
    while (i < len) : (i += 1) {
        appendChildren(queue[i], &queue, &len);
        _ = linux.kill(queue[i], sig);
    }
}

/// Appends the children of every thread of `pid`.
fn appendChildren(pid: i32, queue: *[max_walk]i32, len: *usize) void {
    var path_buf: [64]u8 = undefined;
    const dir_path = std.fmt.bufPrintZ(&path_buf, "/proc/{d}/task", .{pid}) catch return;
    const dir = sys.openat(sys.AT_FDCWD, dir_path, sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC);
    if (sys.errnoOf(dir) != 0) return;
    const dir_fd = sys.asFd(dir);
    defer sys.close(dir_fd);
    var dents: [2048]u8 align(8) = undefined;
    while (true) {
        const n = sys.getdents64(dir_fd, &dents, dents.len);
        if (sys.errnoOf(n) != 0 or n == 0) return;
        var off: usize = 0;
        while (off < n) {
            const reclen = std.mem.readInt(u16, dents[off + 16 ..][0..2], .little);
            const name = std.mem.sliceTo(dents[off + 19 ..], 0);
            off += reclen;
            const tid = std.fmt.parseInt(i32, name, 10) catch continue;
            appendTaskChildren(pid, tid, queue, len);
        }
    }
}

fn appendTaskChildren(pid: i32, tid: i32, queue: *[max_walk]i32, len: *usize) void {
    var path_buf: [80]u8 = undefined;
    const path = std.fmt.bufPrintZ(&path_buf, "/proc/{d}/task/{d}/children", .{ pid, tid }) catch return;
    const rc = sys.openat(sys.AT_FDCWD, path, sys.O_RDONLY | sys.O_CLOEXEC);
    if (sys.errnoOf(rc) != 0) return;
    const fd = sys.asFd(rc);
    defer sys.close(fd);
    var buf: [4096]u8 = undefined;
    var carry: usize = 0;
    while (true) {
        const n = sys.read(fd, buf[carry..]);
        if (sys.errnoOf(n) != 0) return;
        const filled = carry + n;
        // Parse complete numbers; keep a trailing partial one for the next read.
        const complete = if (n == 0) filled else (std.mem.lastIndexOfScalar(u8, buf[0..filled], ' ') orelse 0);
        parsePids(buf[0..complete], queue, len);
        if (n == 0) return;
        std.mem.copyForwards(u8, buf[0 .. filled - complete], buf[complete..filled]);
        carry = filled - complete;
        if (carry == buf.len) return; // no separator in a full buffer: not a pid list
    }
}

pub fn parsePids(text: []const u8, queue: *[max_walk]i32, len: *usize) void {
    var it = std.mem.tokenizeAny(u8, text, " \n");
    while (it.next()) |word| {
        const pid = std.fmt.parseInt(i32, word, 10) catch continue;
        if (len.* == max_walk) return;
        queue[len.*] = pid;
        len.* += 1;
    }
}

test "parsePids reads the children file's format and respects the bound" {
    var queue: [max_walk]i32 = undefined;
    var len: usize = 0;
    parsePids("12 345 6 \n", &queue, &len);
    try std.testing.expectEqualSlices(i32, &.{ 12, 345, 6 }, queue[0..len]);
    len = max_walk - 1;
    parsePids("7 8", &queue, &len);
    try std.testing.expectEqual(@as(usize, max_walk), len);
    try std.testing.expectEqual(@as(i32, 7), queue[max_walk - 1]);
}
