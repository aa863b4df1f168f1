//! Predicts, before clone, the execve failures that depend on a file's content: no `#!` and no
//! ELF header (ENOEXEC), a `#!` interpreter that is missing (ENOENT) or not executable (EACCES).
//! Bun sees these synchronously because its vfork waits for the exec; spawn() returns before
//! ours, so it asks here. Only verdicts that depend on nothing but the file itself are cached, by
//! (device, inode, mtime, size): an ELF, or a script whose interpreter is an absolute path that
//! was there. So a binary launched a thousand times is read once, while a missing interpreter
//! installed later, a relative interpreter (the child's cwd decides), and a binfmt_misc handler
//! registered later are all seen as they are now. Not predicted: an ELF's missing PT_INTERP.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");

const Key = struct { dev: u64, ino: u64, mtime_sec: i64, mtime_nsec: i64, size: i64 };

/// A small direct-mapped cache of files known good: collisions simply re-read the file.
const slots = 64;
var cache: [slots]?Key = [_]?Key{null} ** slots;
var mutex: std.Thread.Mutex = .{};

/// 0 when execve should accept the file as far as its content goes, else the errno it gives.
/// `dir` is where the child resolves relative paths (its cwd): a relative `#!` path too.
pub fn check(dir: i32, file: [*:0]const u8, st: *const linux.Stat) i32 {
    const key = Key{ .dev = st.dev, .ino = st.ino, .mtime_sec = st.mtim.sec, .mtime_nsec = st.mtim.nsec, .size = st.size };
    const slot = std.hash.Wyhash.hash(0, std.mem.asBytes(&key)) % slots;
    mutex.lock();
    defer mutex.unlock();
    if (cache[slot]) |cached| if (std.meta.eql(cached, key)) return 0;
    const verdict = classify(dir, file);
    if (verdict.lasting and verdict.errno == 0) cache[slot] = key;
    return verdict.errno;
}

/// The errno execve would give, and whether it holds for as long as the file is unchanged.
const Verdict = struct { errno: i32, lasting: bool };

fn classify(dir: i32, file: [*:0]const u8) Verdict {
    const rc = sys.openat(dir, file, sys.O_RDONLY | sys.O_CLOEXEC);
    // Execute-only files cannot be read: leave them to execve.
    if (sys.errnoOf(rc) != 0) return .{ .errno = 0, .lasting = false };
    const fd = sys.asFd(rc);
    defer sys.close(fd);
    var head: [256]u8 = undefined;
    const n = sys.read(fd, &head);
    if (sys.errnoOf(n) != 0) return .{ .errno = 0, .lasting = false };
    return classifyHead(dir, head[0..n]);
}

fn classifyHead(dir: i32, head: []const u8) Verdict {
    if (std.mem.startsWith(u8, head, "\x7fELF")) return .{ .errno = 0, .lasting = true };
    if (std.mem.startsWith(u8, head, "#!")) return checkInterpreter(dir, head[2..]);
    // binfmt_misc may know the format: asked each time (handlers come and go at run time).
    return .{ .errno = if (binfmtMiscActive()) 0 else ENOEXEC, .lasting = false };
}

const ENOEXEC = 8;
const ENOENT = 2;

/// The kernel takes the first word after `#!` (spaces and tabs skipped) up to the line's end, and
/// resolves a relative one against the cwd of the process that execs: the child's, `dir`.
fn checkInterpreter(dir: i32, rest: []const u8) Verdict {
    const line_end = std.mem.indexOfScalar(u8, rest, '\n') orelse return .{ .errno = 0, .lasting = false }; // longer than we read
    const line = std.mem.trim(u8, rest[0..line_end], " \t\r");
    const word_end = std.mem.indexOfAny(u8, line, " \t") orelse line.len;
    if (word_end == 0) return .{ .errno = ENOEXEC, .lasting = true };
    var path: [256:0]u8 = undefined;
    @memcpy(path[0..word_end], line[0..word_end]);
    path[word_end] = 0;
    // Whatever is found out about the interpreter holds only now: it can be installed, removed
    // or chmod'ed without the script changing. A good absolute one is cached with the script.
    const lasting = path[0] == '/';
    var st: linux.Stat = undefined;
    const rc = linux.fstatat(dir, &path, &st, 0);
    if (sys.errnoOf(rc) != 0) return .{ .errno = sys.errnoOf(rc), .lasting = false };
    if (st.mode & linux.S.IFMT == linux.S.IFDIR) return .{ .errno = sys.EACCES, .lasting = false };
    const access = sys.errnoOf(linux.faccessat(dir, &path, linux.X_OK, 0));
    return .{ .errno = access, .lasting = lasting and access == 0 };
}

/// Whether any binfmt_misc handler is registered now (then unknown formats may still run).
/// Read on the error path only: a file that is neither ELF nor a script.
fn binfmtMiscActive() bool {
    const rc = sys.openat(sys.AT_FDCWD, "/proc/sys/fs/binfmt_misc", sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC);
    if (sys.errnoOf(rc) != 0) return false;
    const fd = sys.asFd(rc);
    defer sys.close(fd);
    var buf: [1024]u8 align(8) = undefined;
    const n = sys.getdents64(fd, &buf, buf.len);
    if (sys.errnoOf(n) != 0) return false;
    var off: usize = 0;
    while (off < n) {
        const reclen = std.mem.readInt(u16, buf[off + 16 ..][0..2], .little);
        const name = std.mem.sliceTo(buf[off + 19 ..], 0);
        off += reclen;
        const builtin_entry = std.mem.eql(u8, name, ".") or std.mem.eql(u8, name, "..") or
            std.mem.eql(u8, name, "register") or std.mem.eql(u8, name, "status");
        if (!builtin_entry) return true;
    }
    return false;
}

test "exec format: ELF, scripts with present and missing interpreters, junk" {
    const here = sys.AT_FDCWD;
    try std.testing.expectEqual(Verdict{ .errno = 0, .lasting = true }, classifyHead(here, "\x7fELF\x02\x01"));
    try std.testing.expectEqual(Verdict{ .errno = 0, .lasting = true }, classifyHead(here, "#!/bin/sh\necho hi\n"));
    try std.testing.expectEqual(Verdict{ .errno = 0, .lasting = true }, classifyHead(here, "#! /bin/sh -e\n"));
    try std.testing.expectEqual(Verdict{ .errno = ENOENT, .lasting = false }, classifyHead(here, "#!/nonexistent/interpreter\n"));
    try std.testing.expectEqual(Verdict{ .errno = sys.EACCES, .lasting = false }, classifyHead(here, "#!/tmp\n"));
    try std.testing.expectEqual(Verdict{ .errno = ENOEXEC, .lasting = true }, classifyHead(here, "#!\n"));
    if (!binfmtMiscActive()) try std.testing.expectEqual(Verdict{ .errno = ENOEXEC, .lasting = false }, classifyHead(here, "just some text\n"));
}

test "exec format: a relative interpreter is the child's cwd's, and never cached" {
    const rc = sys.openat(sys.AT_FDCWD, "/bin", sys.O_PATH | sys.O_DIRECTORY | sys.O_CLOEXEC);
    try std.testing.expectEqual(@as(i32, 0), sys.errnoOf(rc));
    const bin = sys.asFd(rc);
    defer sys.close(bin);
    try std.testing.expectEqual(Verdict{ .errno = 0, .lasting = false }, classifyHead(bin, "#!sh\n"));
    const root = sys.openat(sys.AT_FDCWD, "/", sys.O_PATH | sys.O_DIRECTORY | sys.O_CLOEXEC);
    defer sys.close(sys.asFd(root));
    try std.testing.expectEqual(Verdict{ .errno = ENOENT, .lasting = false }, classifyHead(sys.asFd(root), "#!sh\n"));
}
