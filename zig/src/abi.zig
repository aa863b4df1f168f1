//! The byte layout shared with src/native.ts. Every struct here is extern and its size is
//! checked at compile time, so a change on one side without the other fails the build, not a user.
const std = @import("std");

/// Bumped whenever a layout below changes; native.ts refuses a library with another value.
pub const version: u32 = 1;

/// The request buffer: this header, then `slot_count` Slots, then NUL-terminated strings in
/// order: file, cwd (only when `flags.cwd`), `argc` argv entries, `envc` envp entries.
pub const RequestHeader = extern struct {
    abi: u32,
    flags: u32,
    slot_count: u32,
    argc: u32,
    envc: u32,
    _reserved: u32 = 0,
};

pub const flag_detached: u32 = 1 << 0;
pub const flag_cwd: u32 = 1 << 1;
/// setsid() and make the terminal at child fd 0 the controlling terminal (TIOCSCTTY).
pub const flag_ctty: u32 = 1 << 2;

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
};

comptime {
    std.debug.assert(@sizeOf(RequestHeader) == 24);
    std.debug.assert(@sizeOf(Slot) == 8);
    std.debug.assert(@sizeOf(SpawnResult) == 16);
    std.debug.assert(@sizeOf(Rusage) == 144);
    std.debug.assert(@sizeOf(Completion) == 168);
    std.debug.assert(@sizeOf(SyncResult) == 200);
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
