//! The C ABI surface: the only `export fn`s, one FFI call per spawn. Every pointer
//! received here is used only during the call; nothing keeps a JS pointer.
const std = @import("std");
const abi = @import("abi.zig");
const launch = @import("launch.zig");
const reaper = @import("reaper.zig");
const sync = @import("sync.zig");

var init_once = std.once(initEngine);
var init_errno: i32 = 0;

fn initEngine() void {
    init_errno = launch.init();
    if (init_errno == 0) init_errno = reaper.init();
}

/// Returned by forkless_init to a second caller: completions go to the first one's thread.
const already_listening: u32 = 0xFFFF_FFFF;

/// The one JS thread that hears of exits. With a `notify` callback it is the main thread, which
/// lives as long as the process. A Worker may end at any moment without running any JS
/// (terminate()), and a callback into its gone VM crashes the process (measured: SIGSEGV at the
/// next exit). So a Worker listens without one: it polls forkless_drain, and once its thread is
/// gone another thread may take its place (its children's completions are then unclaimed).
const listener = struct {
    var mutex: std.Thread.Mutex = .{};
    var tid: i32 = 0;
    var has_callback = false;

    fn claim(notify: ?reaper.Notify) bool {
        mutex.lock();
        defer mutex.unlock();
        if (tid != 0 and (has_callback or threadAlive(tid))) return false;
        tid = std.os.linux.gettid();
        has_callback = notify != null;
        reaper.setNotify(notify);
        return true;
    }

    fn threadAlive(thread: i32) bool {
        const linux = std.os.linux;
        return linux.E.init(linux.tgkill(linux.getpid(), thread, 0)) != .SRCH;
    }
};

/// Starts the engine (once) and returns the ABI version, or 0 if it could not start. `notify`,
/// given by the main thread only, is called from the reaper thread when completions are
/// waiting; without it the caller polls forkless_drain. Only one live thread can hear of exits:
/// another one gets `already_listening`.
export fn forkless_init(notify: ?reaper.Notify) u32 {
    init_once.call();
    if (init_errno != 0) return 0;
    if (!listener.claim(notify)) return already_listening;
    return abi.version;
}

fn resultFds(result: *abi.SpawnResult, request: [*]const u8) []i32 {
    const header = std.mem.bytesToValue(abi.RequestHeader, request[0..@sizeOf(abi.RequestHeader)]);
    const fds: [*]i32 = @ptrCast(@alignCast(@as([*]u8, @ptrCast(result)) + @sizeOf(abi.SpawnResult)));
    return fds[0..@min(header.slot_count, abi.max_slots)];
}

/// Launches one child without waiting for its exec. Returns 0, or -1 with result.stage/errno.
export fn forkless_spawn(request: [*]const u8, len: usize, result: *abi.SpawnResult) i32 {
    return spawnFrom(null, request, len, result);
}

/// Runs one child to its end. The limits are arguments of their own, not request fields: 0 means
/// none; `kill_signal` is sent through the pidfd when `timeout_ms` passes or stdout or stderr
/// passes `max_buffer_bytes` (result.timed_out / max_buffer_exceeded say which).
export fn forkless_spawn_sync(request: [*]const u8, len: usize, result: *abi.SyncResult, fds: [*]i32, timeout_ms: u64, max_buffer_bytes: u64, kill_signal: i32) i32 {
    return spawnSyncFrom(null, request, len, result, fds, .{ .timeout_ms = timeout_ms, .max_buffer_bytes = max_buffer_bytes, .kill_signal = kill_signal });
}

/// Prepares a template from a full request. Returns its handle, or 0 with result.stage/errno.
export fn forkless_template_create(request: [*]const u8, len: usize, result: *abi.SpawnResult) usize {
    result.* = .{ .id = 0, .pid = -1, .stage = .none, .errno = 0 };
    switch (launch.Template.create(request[0..len])) {
        .ok => |t| return @intFromPtr(t),
        .failed => |f| {
            result.stage = f.stage;
            result.errno = f.errno;
            return 0;
        },
    }
}

/// Like forkless_spawn; the request is an overlay (slots, extra args, env entries).
export fn forkless_template_spawn(template: usize, request: [*]const u8, len: usize, result: *abi.SpawnResult) i32 {
    return spawnFrom(@ptrFromInt(template), request, len, result);
}

export fn forkless_template_spawn_sync(template: usize, request: [*]const u8, len: usize, result: *abi.SyncResult, fds: [*]i32, timeout_ms: u64, max_buffer_bytes: u64, kill_signal: i32) i32 {
    return spawnSyncFrom(@ptrFromInt(template), request, len, result, fds, .{ .timeout_ms = timeout_ms, .max_buffer_bytes = max_buffer_bytes, .kill_signal = kill_signal });
}

/// Drops the owner's reference; children still starting keep the template alive until exec.
export fn forkless_template_close(template: usize) void {
    const t: *launch.Template = @ptrFromInt(template);
    t.unref();
}

fn spawnFrom(base: ?*launch.Template, request: [*]const u8, len: usize, result: *abi.SpawnResult) i32 {
    result.* = .{ .id = 0, .pid = -1, .stage = .none, .errno = 0 };
    const fds = resultFds(result, request);
    switch (launch.start(request[0..len], fds, false, base)) {
        .ok => |l| {
            result.pid = l.pid;
            result.id = reaper.add(l) orelse {
                // max_children are running: nothing would watch this one. Undo it entirely.
                reaper.abandon(l);
                for (fds) |*fd| if (fd.* >= 0) {
                    std.posix.close(fd.*);
                    fd.* = -1;
                };
                result.stage = .resource;
                result.errno = 11; // EAGAIN
                return -1;
            };
            return 0;
        },
        .failed => |f| {
            result.stage = f.stage;
            result.errno = f.errno;
            return -1;
        },
    }
}

fn spawnSyncFrom(base: ?*launch.Template, request: [*]const u8, len: usize, result: *abi.SyncResult, fds: [*]i32, limits: sync.Limits) i32 {
    const header = std.mem.bytesToValue(abi.RequestHeader, request[0..@sizeOf(abi.RequestHeader)]);
    // A signal outside 1..31 is a bug in the option layer, which validated it.
    std.debug.assert(limits.kill_signal > 0 and limits.kill_signal < 32);
    sync.runLimited(request[0..len], fds[0..@min(header.slot_count, abi.max_slots)], result, base, limits);
    return if (result.stage == .none) 0 else -1;
}

/// Sends `sig` through the child's pidfd (no pid-reuse race). Returns 0 or a positive errno
/// (ESRCH once the child has been reaped).
export fn forkless_kill(id: u32, sig: i32) i32 {
    return reaper.kill(id, sig);
}

/// Copies up to `capacity` completions into `out`; returns how many.
export fn forkless_drain(out: [*]abi.Completion, capacity: u32) u32 {
    return @intCast(reaper.drain(out[0..capacity]));
}

export fn forkless_free(ptr: ?*anyopaque) void {
    std.c.free(ptr);
}

test {
    _ = @import("fdplan.zig");
    _ = @import("exec_format.zig");
    _ = @import("engine_test.zig");
}

// ---------------------------------------------------------------------------------------------
// The container (container.zig): a helper process as the nominal parent. Results use the same
// layouts as forkless_spawn / forkless_spawn_sync, and ids the same reaper, so kill and
// completions work unchanged.
const container = @import("container.zig");

/// Starts a helper (exactly one fd: its socket at 3). Returns 0, or -1 with out.stage/errno.
export fn forkless_container_open(helper_path: [*:0]const u8, grace_ms: i32, out: *abi.ContainerOpenResult) i32 {
    container.open(helper_path, grace_ms, out);
    return if (out.stage == .none) 0 else -1;
}

export fn forkless_container_spawn(session: u32, request: [*]const u8, len: usize, result: *abi.SpawnResult) i32 {
    const fds: [*]i32 = @ptrCast(@alignCast(@as([*]u8, @ptrCast(result)) + @sizeOf(abi.SpawnResult)));
    container.spawn(session, request[0..len], result, fds);
    return if (result.stage == .none) 0 else -1;
}

export fn forkless_container_spawn_sync(session: u32, request: [*]const u8, len: usize, result: *abi.SyncResult, fds: [*]i32, timeout_ms: u64, max_buffer_bytes: u64, kill_signal: i32) i32 {
    container.spawnSync(session, request[0..len], result, fds, .{ .timeout_ms = timeout_ms, .max_buffer_bytes = max_buffer_bytes, .kill_signal = kill_signal });
    return if (result.stage == .none) 0 else -1;
}

/// kind 2: signal every descendant with `arg`; kind 3: end the tree with a grace of `arg` ms.
/// Returns 0 or a positive errno.
export fn forkless_container_control(session: u32, kind: u32, arg: i32) i32 {
    if (kind != 2 and kind != 3) return 22;
    return container.control(session, @enumFromInt(kind), arg);
}

/// JS is done with the session: the helper sees EOF (if it has not) and the session is freed
/// once its last report is in.
export fn forkless_container_release(session: u32) void {
    container.release(session);
}
