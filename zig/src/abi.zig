//! The byte layout shared with src/native.ts. Every struct here is extern and its size is
//! checked at compile time, so a change on one side without the other fails the build, not a user.
const std = @import("std");

/// Bumped whenever a layout below changes; native.ts refuses a library with another value.
pub const version: u32 = 2;

/// The request buffer: this header, then `slot_count` Slots, then `rlimit_count` Rlimits, then
/// NUL-terminated strings in order: file, cwd (only when `flags.cwd`), the cgroup path (only
/// when `flags.cgroup_path`), `argc` argv entries, `envc` envp entries.
pub const RequestHeader = extern struct {
    abi: u32,
    flags: u32,
    slot_count: u32,
    argc: u32,
    envc: u32,
    rlimit_count: u32 = 0,
    /// Applied in the child only with `flag_uid` / `flag_gid`.
    uid: u32 = 0,
    gid: u32 = 0,
    /// A cgroup v2 directory fd of the caller's (with `flag_cgroup_fd`), else -1.
    cgroup_fd: i32 = -1,
    /// PR_SET_PDEATHSIG for the child; 0 for none.
    death_signal: i32 = 0,
};

pub const flag_detached: u32 = 1 << 0;
pub const flag_cwd: u32 = 1 << 1;
/// setsid() and make the terminal at child fd 0 the controlling terminal (TIOCSCTTY).
pub const flag_ctty: u32 = 1 << 2;
/// setuid(header.uid) in the child (after setgroups and setgid).
pub const flag_uid: u32 = 1 << 3;
/// setgroups([gid]) and setgid(header.gid) in the child.
pub const flag_gid: u32 = 1 << 4;
/// Start the child in the cgroup `header.cgroup_fd` (clone3 with CLONE_INTO_CGROUP).
pub const flag_cgroup_fd: u32 = 1 << 5;
/// Start the child in the cgroup at the path among the strings (the engine opens it).
pub const flag_cgroup_path: u32 = 1 << 6;
/// Keep the inherited RLIMIT_NOFILE. Without it (and without an explicit nofile Rlimit), a soft
/// limit above FD_SETSIZE (1024) is lowered to 1024 in the child: select() breaks above it.
pub const flag_keep_nofile: u32 = 1 << 7;

/// One resource limit for the child, applied with prlimit64 after the fd plan. `soft`/`hard`
/// use `rlim_keep` for "leave as inherited" and `rlim_infinity` for RLIM_INFINITY.
pub const Rlimit = extern struct {
    /// RLIMIT_* (0 … 15).
    resource: u32,
    _pad: u32 = 0,
    soft: u64,
    hard: u64,
};
pub const rlim_infinity: u64 = std.math.maxInt(u64);
pub const rlim_keep: u64 = std.math.maxInt(u64) - 1;
/// RLIMIT_NLIMITS: one entry per resource at most.
pub const max_rlimits = 16;

pub const SlotKind = enum(i32) { none = 0, inherit = 1, ignore = 2, pipe = 3, fd = 4, _ };

pub const Slot = extern struct {
    kind: SlotKind,
    /// Source fd in the parent for `.inherit` and `.fd`; ignored otherwise.
    fd: i32,
};

/// The bound on child fd slots: Bun accepts any stdio length, but a request must be bounded.
pub const max_slots = 256;

/// Why a launch failed; the stage says which step, the errno says how.
pub const Stage = enum(i32) {
    none = 0,
    /// The cwd could not be opened or entered.
    cwd = 1,
    /// The executable check or execve failed.
    exec = 2,
    /// A pipe, socketpair, stack or clone could not be had (EMFILE, ENOMEM, EAGAIN ...).
    resource = 3,
    /// A source fd for a slot is not open, or could not be moved into place.
    fd = 4,
    /// The child could not reset its signals or start a session.
    setup = 5,
    /// setgroups, setgid or setuid failed in the child (EPERM without the privilege).
    credentials = 6,
    /// The cgroup could not be opened (before clone) or joined (clone3).
    cgroup = 7,
    /// A resource limit could not be applied in the child (prlimit64).
    limits = 8,
    /// PR_SET_PDEATHSIG failed, or the parent died before it was in place (errno ESRCH).
    death_signal = 9,
    /// Not a launch failure: the child ended but another waiter in the process reaped it, so
    /// its status is lost (errno says why waitid failed).
    reaped_elsewhere = 10,
};

/// Written by forkless_spawn: then `slot_count` i32 parent fds follow (-1 where no pipe).
pub const SpawnResult = extern struct {
    id: u32,
    pid: i32,
    stage: Stage,
    errno: i32,
};

/// Linux's struct rusage, kept as plain integers so TS can read it as a BigInt64Array.
pub const Rusage = extern struct {
    utime_sec: i64,
    utime_usec: i64,
    stime_sec: i64,
    stime_usec: i64,
    maxrss_kib: i64,
    ixrss: i64,
    idrss: i64,
    isrss: i64,
    minflt: i64,
    majflt: i64,
    nswap: i64,
    inblock: i64,
    oublock: i64,
    msgsnd: i64,
    msgrcv: i64,
    nsignals: i64,
    nvcsw: i64,
    nivcsw: i64,
};

/// One ended child, handed to JS by forkless_drain.
pub const Completion = extern struct {
    id: u32,
    pid: i32,
    /// Exit code when the child exited, else -1.
    exit_code: i32,
    /// The signal that ended the child, else 0.
    signal: i32,
    /// A launch failure found after spawn() returned (exec failed in the child).
    stage: Stage,
    errno: i32,
    rusage: Rusage,
};

/// Written by forkless_spawn_sync. Output buffers are malloc'd; JS copies them and calls
/// forkless_free on each non-null pointer.
pub const SyncResult = extern struct {
    pid: i32,
    exit_code: i32,
    signal: i32,
    stage: Stage,
    errno: i32,
    _reserved: i32 = 0,
    rusage: Rusage,
    stdout_ptr: u64,
    stdout_len: u64,
    stderr_ptr: u64,
    stderr_len: u64,
    /// 1 when the timeout was hit and the kill signal sent through the pidfd (never one without
    /// the other), else 0.
    timed_out: u32 = 0,
    /// 1 when stdout or stderr passed maxBuffer and the kill signal was sent, else 0.
    max_buffer_exceeded: u32 = 0,
};

comptime {
    std.debug.assert(@sizeOf(RequestHeader) == 40);
    std.debug.assert(@sizeOf(Rlimit) == 24);
    std.debug.assert(@sizeOf(Slot) == 8);
    std.debug.assert(@sizeOf(SpawnResult) == 16);
    std.debug.assert(@sizeOf(Rusage) == 144);
    std.debug.assert(@sizeOf(Completion) == 168);
    std.debug.assert(@sizeOf(SyncResult) == 208);
}

/// Written by forkless_container_open: the session handle for later calls, and the helper as the
/// reaper knows it (its id reports the helper's own end to JS like any child's).
pub const ContainerOpenResult = extern struct {
    session: u32,
    helper_id: u32,
    helper_pid: i32,
    stage: Stage,
    errno: i32,
    _reserved: u32 = 0,
};

comptime {
    std.debug.assert(@sizeOf(ContainerOpenResult) == 24);
}
