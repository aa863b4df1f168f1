//! Thin raw-syscall wrappers. They never touch errno, TLS or locks, so the child may call them
//! between clone and execve; each returns the kernel's result and `errnoOf` reads the failure.
const std = @import("std");
const linux = std.os.linux;

pub const fd_t = i32;

/// The positive errno of a raw syscall result, or 0 when it succeeded.
pub inline fn errnoOf(rc: usize) i32 {
    const signed: isize = @bitCast(rc);
    return if (signed < 0 and signed > -4096) @intCast(-signed) else 0;
}

pub inline fn asFd(rc: usize) fd_t {
    return @intCast(@as(isize, @bitCast(rc)));
}

pub const EBADF = 9;
pub const EAGAIN = 11;
pub const ENOMEM = 12;
pub const EACCES = 13;
pub const EINTR = 4;
pub const E2BIG = 7;
pub const EINVAL = 22;
pub const ENOSYS = 38;
pub const ESRCH = 3;
pub const ECHILD = 10;

pub const F_DUPFD_CLOEXEC = 1030;
pub const F_GETFD = 1;
pub const F_SETFD = 2;
pub const F_GETFL = 3;
pub const F_SETFL = 4;
pub const FD_CLOEXEC = 1;
pub const O_NONBLOCK = 0o4000;
pub const O_CLOEXEC = 0o2000000;
pub const O_DIRECTORY = 0o200000;
pub const O_PATH = 0o10000000;
pub const O_RDWR = 2;
pub const O_RDONLY = 0;
pub const O_WRONLY = 1;
pub const AT_FDCWD: fd_t = -100;
pub const CLOSE_RANGE_CLOEXEC = 1 << 2;

pub fn close(fd: fd_t) void {
    _ = linux.syscall1(.close, @bitCast(@as(isize, fd)));
}

pub fn dupfdCloexec(fd: fd_t, min: fd_t) usize {
    return fcntl(fd, F_DUPFD_CLOEXEC, @intCast(min));
}

pub fn dup2(src: fd_t, dst: fd_t) usize {
    return linux.syscall3(.dup3, @bitCast(@as(isize, src)), @bitCast(@as(isize, dst)), 0);
}

pub fn fcntl(fd: fd_t, cmd: usize, arg: usize) usize {
    return linux.syscall3(.fcntl, @bitCast(@as(isize, fd)), cmd, arg);
}

pub fn setCloexec(fd: fd_t, on: bool) usize {
    return fcntl(fd, F_SETFD, if (on) FD_CLOEXEC else 0);
}

pub fn closeRangeCloexec(first: u32, last: u32) usize {
    return linux.syscall3(.close_range, first, last, CLOSE_RANGE_CLOEXEC);
}

pub fn openat(dir: fd_t, path: [*:0]const u8, flags: u32) usize {
    return linux.syscall4(.openat, @bitCast(@as(isize, dir)), @intFromPtr(path), flags, 0);
}

pub fn getdents64(fd: fd_t, buf: [*]u8, len: usize) usize {
    return linux.syscall3(.getdents64, @bitCast(@as(isize, fd)), @intFromPtr(buf), len);
}

pub fn fchdir(fd: fd_t) usize {
    return linux.syscall1(.fchdir, @bitCast(@as(isize, fd)));
}

pub const TIOCSCTTY = 0x540E;

pub fn ioctl(fd: fd_t, request: usize, arg: usize) usize {
    return linux.syscall3(.ioctl, @bitCast(@as(isize, fd)), request, arg);
}

pub fn setsid() usize {
    return linux.syscall0(.setsid);
}

pub fn write(fd: fd_t, bytes: []const u8) usize {
    return linux.syscall3(.write, @bitCast(@as(isize, fd)), @intFromPtr(bytes.ptr), bytes.len);
}

pub fn read(fd: fd_t, buf: []u8) usize {
    return linux.syscall3(.read, @bitCast(@as(isize, fd)), @intFromPtr(buf.ptr), buf.len);
}

pub fn execve(file: [*:0]const u8, argv: [*:null]const ?[*:0]const u8, envp: [*:null]const ?[*:0]const u8) usize {
    return linux.syscall3(.execve, @intFromPtr(file), @intFromPtr(argv), @intFromPtr(envp));
}

pub fn exitGroup(code: u8) noreturn {
    _ = linux.syscall1(.exit_group, code);
    unreachable;
}

/// The kernel's own sigaction layout (not libc's): handler, flags, restorer, 64-bit mask.
pub const KernelSigaction = extern struct {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
};

pub const SIG_DFL: usize = 0;
pub const SIG_SETMASK = 2;
pub const SIGKILL = 9;
pub const SIGSTOP = 19;
pub const max_signal = 64;

pub fn rtSigaction(sig: usize, act: ?*const KernelSigaction, old: ?*KernelSigaction) usize {
    return linux.syscall4(.rt_sigaction, sig, @intFromPtr(act), @intFromPtr(old), 8);
}

/// glibc's internal signals: SIGCANCEL (32, pthread_cancel) and SIGSETXID (33). setuid, setgid
/// and setgroups in a threaded glibc process signal every thread with SIGSETXID and wait until
/// each one has run the handler, so a long-lived thread that blocks 33 makes every later set*id
/// in the process (process.setuid(), an addon's) wait forever.
pub const SIGCANCEL = 32;
pub const SIGSETXID = 33;
/// A mask for a thread that must run none of the runtime's handlers, yet lets glibc's through.
pub const all_but_libc_internal: u64 = ~((@as(u64, 1) << (SIGCANCEL - 1)) | (@as(u64, 1) << (SIGSETXID - 1)));

pub fn sigprocmask(how: usize, set: ?*const u64, old: ?*u64) usize {
    return linux.syscall4(.rt_sigprocmask, how, @intFromPtr(set), @intFromPtr(old), 8);
}

/// waitid with the rusage argument the libc wrapper hides.
pub fn waitid(idtype: usize, id: fd_t, info: *Siginfo, options: usize, usage: ?*linux.rusage) usize {
    return linux.syscall5(.waitid, idtype, @bitCast(@as(isize, id)), @intFromPtr(info), options, @intFromPtr(usage));
}

pub const P_PIDFD = 3;
pub const WEXITED = 4;
pub const WNOHANG = 1;
pub const __WALL = 0x40000000;
pub const CLD_EXITED = 1;

/// The SIGCHLD part of siginfo_t; the kernel writes 128 bytes.
pub const Siginfo = extern struct {
    signo: i32,
    errno: i32,
    code: i32,
    _pad: i32,
    pid: i32,
    uid: u32,
    status: i32,
    _rest: [100]u8,
};

pub fn pidfdSendSignal(pidfd: fd_t, sig: i32) usize {
    return linux.syscall4(.pidfd_send_signal, @bitCast(@as(isize, pidfd)), @bitCast(@as(isize, sig)), 0, 0);
}

comptime {
    std.debug.assert(@sizeOf(Siginfo) == 128);
}

// ---------------------------------------------------------------------------------------------
// Child setup: credentials, limits, parent death, clone3. Raw syscalls like the rest: no libc
// (glibc's set*id would signal every thread of the parent to change theirs too; see seed 003).

pub const EPERM = 1;

pub fn setgroups(groups: []const u32) usize {
    return linux.syscall2(.setgroups, groups.len, @intFromPtr(groups.ptr));
}

pub fn setgid(gid: u32) usize {
    return linux.syscall1(.setgid, gid);
}

pub fn setuid(uid: u32) usize {
    return linux.syscall1(.setuid, uid);
}

/// The kernel's struct rlimit64.
pub const Rlimit64 = extern struct { cur: u64, max: u64 };

/// prlimit64 on the calling process (pid 0): sets `new` (when given), reads the old into `old`.
pub fn prlimit(resource: u32, new: ?*const Rlimit64, old: ?*Rlimit64) usize {
    return linux.syscall4(.prlimit64, 0, resource, @intFromPtr(new), @intFromPtr(old));
}

pub const RLIMIT_STACK = 3;
pub const RLIMIT_NOFILE = 7;
/// select()'s fixed bitmap size: a soft limit above it lets fds exist that select() cannot watch.
pub const FD_SETSIZE = 1024;

pub const PR_SET_PDEATHSIG = 1;
pub const PR_GET_DUMPABLE = 3;
pub const PR_SET_DUMPABLE = 4;

pub fn prctl(option: usize, arg2: usize) usize {
    return linux.syscall5(.prctl, option, arg2, 0, 0, 0);
}

pub fn getppid() i32 {
    return @intCast(@as(isize, @bitCast(linux.syscall0(.getppid))));
}

pub fn getpid() i32 {
    return @intCast(@as(isize, @bitCast(linux.syscall0(.getpid))));
}

pub fn kill(pid: i32, sig: i32) usize {
    return linux.syscall2(.kill, @bitCast(@as(isize, pid)), @bitCast(@as(isize, sig)));
}

/// The kernel's struct clone_args up to `cgroup` (CLONE_ARGS_SIZE_VER2, Linux 5.7).
pub const CloneArgs = extern struct {
    flags: u64,
    pidfd: u64,
    child_tid: u64 = 0,
    parent_tid: u64 = 0,
    exit_signal: u64 = 0,
    /// The lowest address of the child's stack; the kernel starts it at stack + stack_size.
    stack: u64,
    stack_size: u64,
    tls: u64 = 0,
    set_tid: u64 = 0,
    set_tid_size: u64 = 0,
    cgroup: u64 = 0,
};

pub const CLONE_INTO_CGROUP: u64 = 0x200000000;

comptime {
    std.debug.assert(@sizeOf(CloneArgs) == 88);
}

/// clone3 for a CLONE_VM child on a stack of our own: the parent gets the pid (or -errno) back;
/// the child starts at the top of `args.stack` inside this function and calls `func(arg)`, which
/// must not return (child.main ends in exit_group; the exit below is only a backstop).
/// `func` and `arg` ride in registers the syscall preserves, since the child has no stack frame
/// of ours to read them from — the same shape as std.os.linux.clone, with clone3's arguments.
pub fn clone3(args: *const CloneArgs, size: usize, func: *const fn (usize) callconv(.c) u8, arg: usize) usize {
    // A naked function cannot be called directly: call it through the C calling convention.
    const entry: *const fn (*const CloneArgs, usize, *const fn (usize) callconv(.c) u8, usize) callconv(.c) usize = @ptrCast(&clone3Entry);
    return entry(args, size, func, arg);
}

const clone3Entry = switch (@import("builtin").cpu.arch) {
    .x86_64 => clone3X86_64,
    .aarch64 => clone3Aarch64,
    else => @compileError("forkless: clone3 entry not written for this architecture"),
};

// rdi = args, rsi = size, rdx = func, rcx = arg. The syscall clobbers rcx and r11, so func and
// arg move to r8/r9 first; in the child rsp is the (16-aligned) stack top, so `call` leaves it
// aligned as the C ABI wants at func's entry.
fn clone3X86_64() callconv(.naked) usize {
    asm volatile (
        \\      movq %%rdx,%%r8
        \\      movq %%rcx,%%r9
        \\      movl $435,%%eax // SYS_clone3
        \\      syscall
        \\      testq %%rax,%%rax
        \\      jz 1f
        \\      retq
        \\1:
        \\      xorl %%ebp,%%ebp
        \\      movq %%r9,%%rdi
        \\      callq *%%r8
        \\      movl %%eax,%%edi
        \\      movl $231,%%eax // SYS_exit_group
        \\      syscall
        \\      hlt
    );
}

// x0 = args, x1 = size, x2 = func, x3 = arg. svc preserves every register but x0.
fn clone3Aarch64() callconv(.naked) usize {
    asm volatile (
        \\      mov x9,x2
        \\      mov x10,x3
        \\      mov x8,#435 // SYS_clone3
        \\      svc #0
        \\      cbz x0,1f
        \\      ret
        \\1:
        \\      mov fp,#0
        \\      mov lr,#0
        \\      mov x0,x10
        \\      blr x9
        \\      mov x8,#94 // SYS_exit_group
        \\      svc #0
    );
}

pub fn getresuid(ids: *[3]u32) usize {
    return linux.syscall3(.getresuid, @intFromPtr(&ids[0]), @intFromPtr(&ids[1]), @intFromPtr(&ids[2]));
}

pub fn getresgid(ids: *[3]u32) usize {
    return linux.syscall3(.getresgid, @intFromPtr(&ids[0]), @intFromPtr(&ids[1]), @intFromPtr(&ids[2]));
}

pub const CAP_SETGID = 6;
pub const CAP_SETUID = 7;

/// The calling thread's effective capabilities (the low 64 bits), or 0 when capget fails.
pub fn effectiveCaps() u64 {
    const Header = extern struct { version: u32, pid: i32 };
    const Data = extern struct { effective: u32, permitted: u32, inheritable: u32 };
    var header = Header{ .version = 0x20080522, .pid = 0 }; // _LINUX_CAPABILITY_VERSION_3
    var data: [2]Data = undefined;
    const rc = linux.syscall2(.capget, @intFromPtr(&header), @intFromPtr(&data));
    if (errnoOf(rc) != 0) return 0;
    return @as(u64, data[1].effective) << 32 | data[0].effective;
}

/// The first `buf.len` bytes of a small file (a /proc entry), or null when it cannot be read.
pub fn readSmall(path: [*:0]const u8, buf: []u8) ?[]const u8 {
    const rc = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (errnoOf(rc) != 0) return null;
    defer close(asFd(rc));
    const n = read(asFd(rc), buf);
    if (errnoOf(n) != 0) return null;
    return buf[0..n];
}
