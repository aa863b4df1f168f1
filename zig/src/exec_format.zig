//! Predicts, before clone, the execve failures that depend on a file's content: no `#!` and no
//! ELF header (ENOEXEC), a `#!` interpreter that is missing (ENOENT) or not executable (EACCES).
//! Bun sees these synchronously because its vfork waits for the exec; spawn() returns before
//! ours, so it asks here. Verdicts are cached by (device, inode, mtime, size): a binary launched
//! a thousand times is read once. Formats handled by binfmt_misc are not predicted (the kernel
//! may know them), and neither is an ELF's missing PT_INTERP.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");

const Key = struct { dev: u64, ino: u64, mtime_sec: i64, mtime_nsec: i64, size: i64 };
const Entry = struct { key: Key, errno: i32 };

/// A small direct-mapped cache: collisions simply re-read the file.
const slots = 64;
var cache: [slots]?Entry = [_]?Entry{null} ** slots;
var mutex: std.Thread.Mutex = .{};
var binfmt_misc_state: enum { unknown, idle, active } = .unknown;

/// 0 when execve should accept the file as far as its content goes, else the errno it gives.
pub fn check(dir: i32, file: [*:0]const u8, st: *const linux.Stat) i32 {
    const key = Key{ .dev = st.dev, .ino = st.ino, .mtime_sec = st.mtim.sec, .mtime_nsec = st.mtim.nsec, .size = st.size };
    const slot = std.hash.Wyhash.hash(0, std.mem.asBytes(&key)) % slots;
    mutex.lock();
    defer mutex.unlock();
    if (cache[slot]) |e| if (std.meta.eql(e.key, key)) return e.errno;
    const errno = classify(dir, file);
    cache[slot] = .{ .key = key, .errno = errno };
    return errno;
}

fn classify(dir: i32, file: [*:0]const u8) i32 {
    const rc = sys.openat(dir, file, sys.O_RDONLY | sys.O_CLOEXEC);
    // Execute-only files cannot be read: leave them to execve.
    if (sys.errnoOf(rc) != 0) return 0;
    const fd = sys.asFd(rc);
    defer sys.close(fd);
    var head: [256]u8 = undefined;
    const n = sys.read(fd, &head);
    if (sys.errnoOf(n) != 0) return 0;
    return classifyHead(head[0..n]);
}

fn classifyHead(head: []const u8) i32 {
    if (std.mem.startsWith(u8, head, "\x7fELF")) return 0;
    if (std.mem.startsWith(u8, head, "#!")) return checkInterpreter(head[2..]);
    return if (binfmtMiscActive()) 0 else ENOEXEC;
}

const ENOEXEC = 8;
const ENOENT = 2;

/// The kernel takes the first word after `#!` (spaces and tabs skipped) up to the line's end.
fn checkInterpreter(rest: []const u8) i32 {
    const line_end = std.mem.indexOfScalar(u8, rest, '\n') orelse return 0; // longer than we read
    const line = std.mem.trim(u8, rest[0..line_end], " \t\r");
    const word_end = std.mem.indexOfAny(u8, line, " \t") orelse line.len;
    if (word_end == 0) return ENOEXEC;
    var path: [256:0]u8 = undefined;
    @memcpy(path[0..word_end], line[0..word_end]);
    path[word_end] = 0;
    var st: linux.Stat = undefined;
    const rc = linux.fstatat(sys.AT_FDCWD, &path, &st, 0);
    if (sys.errnoOf(rc) != 0) return sys.errnoOf(rc);
    if (st.mode & linux.S.IFMT == linux.S.IFDIR) return sys.EACCES;
    return sys.errnoOf(linux.faccessat(sys.AT_FDCWD, &path, linux.X_OK, 0));
}

/// Whether any binfmt_misc handler is registered (then unknown formats may still run).
fn binfmtMiscActive() bool {
    if (binfmt_misc_state == .unknown) {
        binfmt_misc_state = .idle;
        const rc = sys.openat(sys.AT_FDCWD, "/proc/sys/fs/binfmt_misc", sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC);
        if (sys.errnoOf(rc) == 0) {
            const fd = sys.asFd(rc);
            defer sys.close(fd);
            var buf: [1024]u8 align(8) = undefined;
            const n = sys.getdents64(fd, &buf, buf.len);
            if (sys.errnoOf(n) == 0) {
                var off: usize = 0;
                while (off < n) {
                    const reclen = std.mem.readInt(u16, buf[off + 16 ..][0..2], .little);
                    const name = std.mem.sliceTo(buf[off + 19 ..], 0);
                    off += reclen;
                    const builtin_entry = std.mem.eql(u8, name, ".") or std.mem.eql(u8, name, "..") or
                        std.mem.eql(u8, name, "register") or std.mem.eql(u8, name, "status");
                    if (!builtin_entry) binfmt_misc_state = .active;
                }
            }
        }
    }
    return binfmt_misc_state == .active;
}

test "exec format: ELF, scripts with present and missing interpreters, junk" {
    try std.testing.expectEqual(@as(i32, 0), classifyHead("\x7fELF\x02\x01"));
    try std.testing.expectEqual(@as(i32, 0), classifyHead("#!/bin/sh\necho hi\n"));
    try std.testing.expectEqual(@as(i32, 0), classifyHead("#! /bin/sh -e\n"));
    try std.testing.expectEqual(@as(i32, ENOENT), classifyHead("#!/nonexistent/interpreter\n"));
    try std.testing.expectEqual(@as(i32, sys.EACCES), classifyHead("#!/tmp\n"));
    try std.testing.expectEqual(@as(i32, ENOEXEC), classifyHead("#!\n"));
    if (!binfmtMiscActive()) try std.testing.expectEqual(@as(i32, ENOEXEC), classifyHead("just some text\n"));
}
