//! The child between clone and execve. It shares the parent's memory and runs beside the
//! parent's threads, so it touches only its own stack and its read-only Args, calls raw syscalls
//! only (no libc: no errno/TLS, no malloc, no locks, no logging) and never panics.
const std = @import("std");
const sys = @import("sys.zig");
const fdplan = @import("fdplan.zig");
const abi = @import("abi.zig");

/// Everything the child reads. The engine keeps it (and the stack) alive until the kernel clears
/// the launch's exec word (CLONE_CHILD_CLEARTID: at execve, or at exit). The child writes only
/// `report`, and only when it fails.
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
    /// Where a failed child leaves {stage, errno} before it exits (engine memory: CLONE_VM). The
    /// parent reads it only once the exec word is clear, which the kernel does after this write.
    report: *Report,
    /// The rest is the optional setup (uid, gid, limits, parent death); the defaults do nothing.
    credentials: Credentials = .{},
    /// Applied in order after the fd plan (a lowered RLIMIT_NOFILE must not get in its way).
    rlimits: []const abi.Rlimit = &.{},
    /// Without an explicit nofile entry: false lowers a soft RLIMIT_NOFILE above FD_SETSIZE.
    keep_nofile: bool = false,
    /// PR_SET_PDEATHSIG, 0 for none, and the pid getppid() must return once it is set.
    death_signal: i32 = 0,
    parent_pid: i32 = 0,
    /// A cgroup v1 directory's cgroup.procs (O_WRONLY|O_CLOEXEC), or -1: clone3 places a child
    /// into a v2 cgroup itself; into a v1 one the child moves itself, first thing.
    cgroup_procs_fd: i32 = -1,
};

pub const Credentials = struct {
    set_uid: bool = false,
    uid: u32 = 0,
    set_gid: bool = false,
    gid: u32 = 0,
};

/// What a failed child leaves in the launch before it exits.
pub const Report = extern struct { stage: abi.Stage, errno: i32 };

pub const exit_code_on_failure = 127;

/// The clone entry point. Signals are blocked on entry: the launching thread blocked them all
/// around clone, so none of the parent's handlers can run here on the parent's data.
pub fn main(arg: usize) callconv(.c) u8 {
    @setRuntimeSafety(false);
    const args: *const Args = @ptrFromInt(arg);
    const failed = if (joinCgroupV1(args.cgroup_procs_fd)) |report| report else run(args);
    @as(*volatile Report, args.report).* = failed;
    sys.exitGroup(exit_code_on_failure);
}

/// Writing "0" to cgroup.procs moves the writer: this process, before it runs anything else.
fn joinCgroupV1(procs_fd: i32) ?Report {
    @setRuntimeSafety(false);
    if (procs_fd < 0) return null;
    const rc = sys.write(procs_fd, "0"); // Bun writes "0" too: a file in a plain directory shows it
    if (sys.errnoOf(rc) != 0) return .{ .stage = .cgroup, .errno = sys.errnoOf(rc) };
    return null;
}

fn run(args: *const Args) Report {
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
    const plan_err = fdplan.apply(&real, sources[0..n]);
    if (plan_err != 0) return .{ .stage = .fd, .errno = plan_err };
    if (args.controlling_tty) {
        // A new session has no controlling terminal; a terminal opened as fd 0 becomes it here.
        const rc = sys.ioctl(0, sys.TIOCSCTTY, 0);
        if (sys.errnoOf(rc) != 0) return .{ .stage = .setup, .errno = sys.errnoOf(rc) };
    }
    const limits_err = applyLimits(args);
    if (limits_err != 0) return .{ .stage = .limits, .errno = limits_err };
    // Credentials after the limits (raising a hard limit needs the privilege we may drop) and
    // before the death signal (a change of effective ids clears PR_SET_PDEATHSIG).
    const cred_err = applyCredentials(args.credentials);
    if (cred_err != 0) return .{ .stage = .credentials, .errno = cred_err };
    if (args.death_signal != 0) {
        if (armDeathSignal(args)) |failed| return failed;
    }
    // Only now unblock, with an empty mask whatever the launching thread had blocked (Bun
    // passes a native library's blocked mask on to its children; we must not).
    const empty: u64 = 0;
    _ = sys.sigprocmask(sys.SIG_SETMASK, &empty, null);
    const rc = sys.execve(args.file, args.argv, args.envp);
    return .{ .stage = .exec, .errno = sys.errnoOf(rc) };
}

/// The requested limits, then the default for RLIMIT_NOFILE: the parent's soft limit is usually
/// its hard one (Bun raises it at startup), but select() cannot watch an fd >= FD_SETSIZE, so a
/// child that was not asked to keep it starts at 1024 (systemd's rlimit_nofile_safe rule).
/// Returns 0 or the errno. `rlimits` is read-only shared memory; the structs live on our stack.
fn applyLimits(args: *const Args) i32 {
    @setRuntimeSafety(false);
    var nofile_given = false;
    for (args.rlimits) |r| {
        if (r.resource == sys.RLIMIT_NOFILE) nofile_given = true;
        var want = sys.Rlimit64{ .cur = r.soft, .max = r.hard };
        if (r.soft == abi.rlim_keep or r.hard == abi.rlim_keep) {
            var old: sys.Rlimit64 = undefined;
            const got = sys.prlimit(r.resource, null, &old);
            if (sys.errnoOf(got) != 0) return sys.errnoOf(got);
            if (r.soft == abi.rlim_keep) want.cur = old.cur;
            if (r.hard == abi.rlim_keep) want.max = old.max;
        }
        const rc = sys.prlimit(r.resource, &want, null);
        if (sys.errnoOf(rc) != 0) return sys.errnoOf(rc);
    }
    if (nofile_given or args.keep_nofile) return 0;
    var nofile: sys.Rlimit64 = undefined;
    const got = sys.prlimit(sys.RLIMIT_NOFILE, null, &nofile);
    if (sys.errnoOf(got) != 0) return sys.errnoOf(got);
    if (nofile.cur <= sys.FD_SETSIZE) return 0;
    // Lowering a soft limit needs no privilege and leaves the hard limit for the child to raise.
    nofile.cur = sys.FD_SETSIZE;
    return sys.errnoOf(sys.prlimit(sys.RLIMIT_NOFILE, &nofile, null));
}

/// setgroups, setgid, setuid, in that order, as raw syscalls: they change this process only (we
/// are not a thread of the parent), and glibc's wrappers would broadcast to the parent's threads.
/// After the change the kernel marks us non-dumpable (suid_dumpable), so the new uid cannot
/// ptrace its way into the memory we still share with the parent until execve.
fn applyCredentials(c: Credentials) i32 {
    @setRuntimeSafety(false);
    if (!c.set_uid and !c.set_gid) return 0;
    // Supplementary groups: none, as Bun 1.4.5 and libuv leave a child given a uid or a gid;
    // the parent's (root's included) must not follow the child into its new identity.
    const rc = sys.setgroups(&.{});
    // EPERM: an unprivileged caller can neither drop nor gain groups, so there is nothing to
    // change; setgid/setuid below still fail with EPERM if the identity change is not allowed.
    if (sys.errnoOf(rc) != 0 and sys.errnoOf(rc) != sys.EPERM) return sys.errnoOf(rc);
    if (c.set_gid) {
        const g = sys.setgid(c.gid);
        if (sys.errnoOf(g) != 0) return sys.errnoOf(g);
    }
    if (c.set_uid) {
        const u = sys.setuid(c.uid);
        if (sys.errnoOf(u) != 0) return sys.errnoOf(u);
    }
    return 0;
}

/// PR_SET_PDEATHSIG, then the check that closes its race: if the parent died before the signal
/// was armed, getppid() is no longer the pid that launched us, and we die the same way now.
/// The signal fires when the cloning *thread* exits (Linux tracks the parent per thread): the
/// launcher thread in launch.zig, which lives as long as the process.
fn armDeathSignal(args: *const Args) ?Report {
    @setRuntimeSafety(false);
    const rc = sys.prctl(sys.PR_SET_PDEATHSIG, @intCast(args.death_signal));
    if (sys.errnoOf(rc) != 0) return .{ .stage = .death_signal, .errno = sys.errnoOf(rc) };
    if (sys.getppid() == args.parent_pid) return null;
    // Handlers are SIG_DFL already: raise it, then let it in. A signal whose default is not to
    // terminate (SIGCHLD, SIGCONT …) leaves us here, and we exit with the report instead.
    _ = sys.kill(sys.getpid(), args.death_signal);
    const empty: u64 = 0;
    _ = sys.sigprocmask(sys.SIG_SETMASK, &empty, null);
    return .{ .stage = .death_signal, .errno = sys.ESRCH };
}
