//! The wire between the main process and its helper: SOCK_SEQPACKET frames, one per message, so
//! each recvmsg returns exactly one frame and SCM_RIGHTS fds arrive with the frame they belong to.
//! Both ends are built from this one file; it is never seen by TS, so it carries no ABI version.
const std = @import("std");
const abi = @import("../abi.zig");

pub const Kind = enum(u32) {
    // main → helper
    /// A SpawnFrame, then the abi request bytes. SCM_RIGHTS: one fd per shipped slot (kinds
    /// inherit, fd and pipe, in slot order), then the main process's cwd (O_PATH).
    spawn = 1,
    /// A Control frame: signal every descendant with `arg`.
    kill_all = 2,
    /// A Control frame: end the tree now with a grace of `arg` ms, then exit.
    shutdown = 3,
    /// A Control frame: the main process could not take the child launched for tag `arg` (its
    /// pidfd was lost to EMFILE, or the reaper is full): SIGKILL it. Its Exited still follows,
    /// and only that frees the tag.
    kill_launch = 4,
    // helper → main
    /// A Spawned frame; SCM_RIGHTS carries the child's pidfd when `stage` is none.
    spawned = 16,
    /// An Exited frame: a child the helper launched has been reaped.
    exited = 17,
    _,
};

pub const SpawnFrame = extern struct {
    kind: Kind = .spawn,
    /// Chosen by the main process; echoed in Spawned and Exited.
    tag: u32,
    /// How many fds ride along (shipped slots, the cgroup fd when flagged, the cwd, and the
    /// body's memfd with `body_in_fd`).
    fd_count: u32,
    flags: u32 = 0,

    /// The request bytes are not in this frame but in the last fd, a memfd: a frame larger than
    /// the socket's send buffer would fail (EMSGSIZE), and that buffer is capped by wmem_max.
    pub const body_in_fd: u32 = 1;
};

pub const Control = extern struct {
    kind: Kind,
    arg: i32,
};

pub const Spawned = extern struct {
    kind: Kind = .spawned,
    tag: u32,
    pid: i32,
    stage: abi.Stage,
    errno: i32,
    _reserved: u32 = 0,
};

pub const Exited = extern struct {
    kind: Kind = .exited,
    tag: u32,
    /// `id` is unused here (the main process owns ids); everything else as the reaper reports it.
    completion: abi.Completion,
};

/// The most fds one SCM_RIGHTS message may carry (the kernel's SCM_MAX_FD).
pub const max_fds = 253;
/// The largest request the helper accepts. execve takes at most 6 MiB of argv and envp (3/4 of
/// _STK_LIM, with RLIMIT_STACK at 24 MiB or more); slots and rlimits add a few KiB.
pub const max_request_bytes = 8 * 1024 * 1024;
/// The largest frame sent inline (head and request). A bigger request travels in a memfd: one
/// datagram must fit the socket's send buffer, which wmem_max caps (212992 bytes by default),
/// and a large linear skb is a high-order allocation that can fail under fragmentation.
pub const max_inline_bytes = 64 * 1024;
/// The helper's first descriptor: its end of the socketpair.
pub const helper_socket_fd = 3;

/// The part of a cmsg buffer the kernel reads: header, then the fds.
pub const Cmsg = extern struct {
    len: usize,
    level: i32,
    type: i32,
};
pub const SOL_SOCKET = 1;
pub const SCM_RIGHTS = 1;

/// A control buffer big enough for max_fds descriptors, aligned as cmsghdr wants.
pub const CmsgBuffer = extern struct {
    header: Cmsg align(8),
    fds: [max_fds]i32,
    _pad: u32 = 0,

    pub fn lenFor(fd_count: usize) usize {
        return @sizeOf(Cmsg) + fd_count * @sizeOf(i32);
    }
    /// The control length to pass to sendmsg (CMSG_SPACE: padded to 8).
    pub fn spaceFor(fd_count: usize) usize {
        return std.mem.alignForward(usize, lenFor(fd_count), 8);
    }
    /// The fds a received control buffer holds (none unless it is one SCM_RIGHTS message).
    pub fn received(self: *const CmsgBuffer, controllen: usize) []const i32 {
        if (controllen < @sizeOf(Cmsg) or self.header.level != SOL_SOCKET or self.header.type != SCM_RIGHTS) return &.{};
        if (self.header.len < @sizeOf(Cmsg)) return &.{};
        return self.fds[0..@min((self.header.len - @sizeOf(Cmsg)) / @sizeOf(i32), max_fds)];
    }
};

/// The slot kinds whose fd the main process ships (everything else the helper makes itself).
pub fn isShipped(kind: abi.SlotKind) bool {
    return kind == .inherit or kind == .fd or kind == .pipe;
}

comptime {
    std.debug.assert(@sizeOf(SpawnFrame) == 16);
    std.debug.assert(@sizeOf(Control) == 8);
    std.debug.assert(@sizeOf(Spawned) == 24);
    std.debug.assert(@sizeOf(Exited) == 176);
    std.debug.assert(@sizeOf(Cmsg) == 16);
}
