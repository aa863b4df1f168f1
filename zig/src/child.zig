//! The child between clone and execve. It shares the parent's memory and runs beside the
//! parent's threads, so it touches only its own stack and its read-only Args, calls raw syscalls
//! only (no libc: no errno/TLS, no malloc, no locks, no logging) and never panics.
const std = @import("std");
const sys = @import("sys.zig");
const fdplan = @import("fdplan.zig");
const abi = @import("abi.zig");

/// Everything the child reads. The engine keeps it (and the stack) alive until the error pipe
/// says the child exec'd or failed; the child never writes to it.
pub const Args = struct {
    file: [*:0]const u8,
    argv: [*:null]const ?[*:0]const u8,
    envp: [*:null]const ?[*:0]const u8,
    /// An O_PATH|O_CLOEXEC fd of the new cwd, or -1.
    cwd_fd: i32,
    detached: bool,
    /// Take the terminal at child fd 0 as the controlling terminal (after setsid).
    controlling_tty: bool,
    /// sources[i]: the parent fd to place at child fd i, -1 for none.
    sources: []const i32,
    /// The write end of the O_CLOEXEC error pipe: EOF at exec, a Report on failure.
    err_fd: i32,
};

/// What a failed child writes to the error pipe before it exits.
pub const Report = extern struct { stage: abi.Stage, errno: i32 };

pub const exit_code_on_failure = 127;

/// The clone entry point. Signals are blocked on entry: the launching thread blocked them all
/// around clone, so none of the parent's handlers can run here on the parent's data.
pub fn main(arg: usize) callconv(.c) u8 {
    @setRuntimeSafety(false);
    const args: *const Args = @ptrFromInt(arg);
    var err_fd = args.err_fd;
    const failed = run(args, &err_fd);
    const report = Report{ .stage = failed.stage, .errno = failed.errno };
    _ = sys.write(err_fd, std.mem.asBytes(&report));
    sys.exitGroup(exit_code_on_failure);
}

fn run(args: *const Args, err_fd: *i32) Report {
    @setRuntimeSafety(false);
    // Every handler back to SIG_DFL, ignored ones too: a handler address means nothing after
    // exec anyway, and an inherited SIG_IGN (SIGPIPE in most runtimes) breaks ordinary programs.
    const dfl = sys.KernelSigaction{ .handler = sys.SIG_DFL, .flags = 0, .restorer = 0, .mask = 0 };
    var sig: usize = 1;
    while (sig <= sys.max_signal) : (sig += 1) {
        if (sig == sys.SIGKILL or sig == sys.SIGSTOP) continue;
        _ = sys.rtSigaction(sig, &dfl, null);
    }
    if (args.detached or args.controlling_tty) {
        const rc = sys.setsid();
        if (sys.errnoOf(rc) != 0) return .{ .stage = .setup, .errno = sys.errnoOf(rc) };
    }
    if (args.cwd_fd >= 0) {
        const rc = sys.fchdir(args.cwd_fd);
        if (sys.errnoOf(rc) != 0) return .{ .stage = .cwd, .errno = sys.errnoOf(rc) };
    }
    // The plan rewrites its sources: work on a copy on our own stack, never on shared memory.
    var sources: [abi.max_slots]i32 = undefined;
    const n = args.sources.len;
    for (0..n) |i| sources[i] = args.sources[i];
    var real = fdplan.Real{};
    const plan_err = fdplan.apply(&real, sources[0..n], err_fd);
    if (plan_err != 0) return .{ .stage = .fd, .errno = plan_err };
    if (args.controlling_tty) {
        // A new session has no controlling terminal; a terminal opened as fd 0 becomes it here.
        const rc = sys.ioctl(0, sys.TIOCSCTTY, 0);
        if (sys.errnoOf(rc) != 0) return .{ .stage = .setup, .errno = sys.errnoOf(rc) };
    }
    // Only now unblock, with an empty mask whatever the launching thread had blocked (Bun
    // passes a native library's blocked mask on to its children; we must not).
    const empty: u64 = 0;
    _ = sys.sigprocmask(sys.SIG_SETMASK, &empty, null);
    const rc = sys.execve(args.file, args.argv, args.envp);
    return .{ .stage = .exec, .errno = sys.errnoOf(rc) };
}
