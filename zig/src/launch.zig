//! The parent's half of one launch: check the request, make every resource the child needs
//! (all before clone: nothing is allocated after), clone onto an engine-owned stack, and hand
//! back pid, pidfd and the parent's pipe ends. On any failure everything made so far is undone.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const abi = @import("abi.zig");
const child = @import("child.zig");
const exec_format = @import("exec_format.zig");

const allocator = std.heap.raw_c_allocator;

/// What one launch owns until the child has exec'd (or failed): the child's Args and the
/// memory they point into, and the stack it runs on.
pub const Launch = struct {
    args: child.Args,
    block: []align(16) u8,
    stack: []align(std.heap.page_size_min) u8,
    /// 1 until the kernel clears it (CLONE_CHILD_CLEARTID) when the child execs or exits: from
    /// then on the child touches neither its stack nor this launch. Read with `settled`.
    exec_word: i32 align(4),
    /// A failed child's {stage, errno} (child.Args.report points here); none after an exec.
    report: child.Report,
    pid: i32,
    pidfd: i32,
    /// Read by the parent only, before clone: the child enters the cwd by fd.
    cwd_path: ?[*:0]const u8,
    /// Read by the parent only: the cgroup to open before clone, or the caller's cgroup fd (-1).
    cgroup_path: ?[*:0]const u8,
    cgroup_fd: i32,
    /// The template whose strings argv/envp point into, kept alive until the child is done.
    base: ?*Template,
    /// What child.Args.rlimits points into: the child reads it, so it lives as long as Args.
    setup: Setup,
    /// Counted in `identity` from before clone until release: the child may change its ids.
    changes_identity: bool = false,
    /// At least the bytes execve copies for file, argv and envp (NULs included): the fast bound
    /// of argumentsRefused.
    string_bytes_bound: usize = 0,
    argc: usize = 0,
    envc: usize = 0,

    /// Whether the child has exec'd or exited, so `report` is final and `release` is safe.
    pub fn settled(self: *const Launch) bool {
        return @atomicLoad(i32, &self.exec_word, .acquire) == 0;
    }

    /// Frees what the child was using. Only once `settled`.
    pub fn release(self: *Launch) void {
        std.debug.assert(self.pid < 0 or self.settled());
        if (self.changes_identity) identity.end();
        stacks.put(self.stack);
        if (self.base) |t| t.unref();
        allocator.free(self.block);
    }
};

pub const Failure = struct { stage: abi.Stage, errno: i32 };

pub const Outcome = union(enum) { ok: *Launch, failed: Failure };

/// The engine's /dev/null, the source of every "ignore" slot, opened by `init`: read-only for
/// stdin and write-only for the rest, the access modes Bun's children see.
pub var devnull_fd: i32 = -1;
pub var devnull_read_fd: i32 = -1;

pub fn init() i32 {
    if (std.c.getenv("FORKLESS_FORCE_VFORK")) |value| {
        if (std.mem.eql(u8, std.mem.span(value), "1")) vfork_only.store(true, .monotonic);
    }
    const w = sys.openat(sys.AT_FDCWD, "/dev/null", sys.O_WRONLY | sys.O_CLOEXEC);
    if (sys.errnoOf(w) != 0) return sys.errnoOf(w);
    const r = sys.openat(sys.AT_FDCWD, "/dev/null", sys.O_RDONLY | sys.O_CLOEXEC);
    if (sys.errnoOf(r) != 0) {
        sys.close(sys.asFd(w));
        return sys.errnoOf(r);
    }
    devnull_fd = sys.asFd(w);
    devnull_read_fd = sys.asFd(r);
    return 0;
}

/// Launches the request. `parent_fds` receives, per slot, the parent's end of a "pipe" slot
/// (O_NONBLOCK, O_CLOEXEC) or -1. With `vfork` the call returns only after the child exec'd or
/// died (spawnSync blocks anyway); without it, it returns as soon as the clone exists.
/// With a `base` template, the request is an overlay: slots, extra args and env entries only.
pub fn start(request: []const u8, parent_fds: []i32, vfork: bool, base: ?*Template) Outcome {
    const parsed = parse(request) orelse return .{ .failed = .{ .stage = .resource, .errno = sys.EINVAL } };
    // A launch has stdin, stdout and stderr, and an argv[0] of its own or from its template.
    if (parsed.slots.len < 3 or (base == null and parsed.header.argc == 0)) return .{ .failed = .{ .stage = .resource, .errno = sys.EINVAL } };
    std.debug.assert(parent_fds.len == parsed.slots.len);
    const launch = build(parsed, base) orelse return .{ .failed = .{ .stage = .resource, .errno = sys.ENOMEM } };
    var made = Made{};
    if (prepare(launch, parsed, parent_fds, &made)) |failure| {
        made.undo(parent_fds);
        launch.release();
        return .{ .failed = failure };
    }
    if (launch.args.credentials.set_uid or launch.args.credentials.set_gid) {
        identity.begin();
        launch.changes_identity = true;
    }
    const cloned = if (launch.args.death_signal != 0) launcher.run(launch, vfork) else clone(launch, vfork);
    if (cloned) |errno| {
        // With a cgroup, clone3's own errors (EACCES, EBUSY, EOPNOTSUPP …) are about joining it.
        const joining = launch.cgroup_fd >= 0 and errno != sys.EAGAIN and errno != sys.ENOMEM;
        made.undo(parent_fds);
        launch.release();
        return .{ .failed = .{ .stage = if (joining) .cgroup else .resource, .errno = errno } };
    }
    // The child has its own copy of the fd table now: our copies of its ends can go at once.
    made.closeChildEnds();
    return .{ .ok = launch };
}

const Parsed = struct {
    header: abi.RequestHeader,
    slots: []align(1) const abi.Slot,
    rlimits: []align(1) const abi.Rlimit,
    strings: []const u8,

    /// The child setup the request asks for (a template's overlay has none: it uses its own).
    fn setup(p: Parsed) Setup {
        const h = p.header;
        var out = Setup{
            .credentials = .{
                .set_uid = h.flags & abi.flag_uid != 0,
                .uid = h.uid,
                .set_gid = h.flags & abi.flag_gid != 0,
                .gid = h.gid,
            },
            .keep_nofile = h.flags & abi.flag_keep_nofile != 0,
            .death_signal = h.death_signal,
            .rlimit_count = p.rlimits.len,
        };
        for (p.rlimits, 0..) |r, i| out.rlimits[i] = r;
        return out;
    }
};

/// The optional child setup, copied by value into each launch (and kept by a template).
const Setup = struct {
    credentials: child.Credentials = .{},
    keep_nofile: bool = false,
    death_signal: i32 = 0,
    rlimits: [abi.max_rlimits]abi.Rlimit = undefined,
    rlimit_count: usize = 0,
};

/// The request comes from native.ts; a malformed one is our bug, reported as EINVAL.
fn parse(request: []const u8) ?Parsed {
    if (request.len < @sizeOf(abi.RequestHeader)) return null;
    const header = std.mem.bytesToValue(abi.RequestHeader, request[0..@sizeOf(abi.RequestHeader)]);
    if (header.abi != abi.version or header.slot_count > abi.max_slots) return null;
    if (header.rlimit_count > abi.max_rlimits) return null;
    const slots_end = @sizeOf(abi.RequestHeader) + header.slot_count * @sizeOf(abi.Slot);
    const rlimits_end = slots_end + header.rlimit_count * @sizeOf(abi.Rlimit);
    if (request.len < rlimits_end or request[request.len - 1] != 0) return null;
    const strings = request[rlimits_end..];
    const want = 1 + @as(usize, @intFromBool(header.flags & abi.flag_cwd != 0)) +
        @as(usize, @intFromBool(header.flags & abi.flag_cgroup_path != 0)) + header.argc + header.envc;
    if (std.mem.count(u8, strings, "\x00") != want) return null;
    return .{
        .header = header,
        .slots = std.mem.bytesAsSlice(abi.Slot, request[@sizeOf(abi.RequestHeader)..slots_end]),
        .rlimits = std.mem.bytesAsSlice(abi.Rlimit, request[slots_end..rlimits_end]),
        .strings = strings,
    };
}

/// One allocation holds the Launch, argv/envp pointer arrays, the sources and the strings. With
/// a template, argv and envp point into the template's memory and only the overlay is copied.
fn build(p: Parsed, base: ?*Template) ?*Launch {
    const base_argc = if (base) |t| t.argv.len else 0;
    const base_envc = if (base) |t| t.envp.len else 0;
    const argc = base_argc + p.header.argc;
    const envc = base_envc + p.header.envc;
    const ptrs_bytes = (argc + 1 + envc + 1) * @sizeOf(usize);
    const sources_bytes = p.slots.len * @sizeOf(i32);
    const total = @sizeOf(Launch) + ptrs_bytes + sources_bytes + p.strings.len;
    const block = allocator.alignedAlloc(u8, .@"16", total) catch return null;
    const stack = stacks.get() orelse {
        allocator.free(block);
        return null;
    };
    const launch: *Launch = @ptrCast(block.ptr);
    const ptrs: [*]?[*:0]const u8 = @ptrCast(@alignCast(block.ptr + @sizeOf(Launch)));
    const sources: [*]i32 = @ptrCast(@alignCast(block.ptr + @sizeOf(Launch) + ptrs_bytes));
    const strings = block[total - p.strings.len ..];
    @memcpy(strings, p.strings);
    for (sources[0..p.slots.len]) |*s| s.* = -1;

    var it = Strings{ .bytes = strings };
    var file = it.next();
    var cwd_path: ?[*:0]const u8 = null;
    if (p.header.flags & abi.flag_cwd != 0) cwd_path = it.next();
    var cgroup_path: ?[*:0]const u8 = null;
    if (p.header.flags & abi.flag_cgroup_path != 0) cgroup_path = it.next();
    var argv: []?[*:0]const u8 = ptrs[0 .. argc + 1];
    var envp: []?[*:0]const u8 = ptrs[argc + 1 .. argc + 1 + envc + 1];
    if (base) |t| {
        file = t.file;
        @memcpy(argv[0..base_argc], t.argv);
    }
    for (argv[base_argc..argc]) |*a| a.* = it.next();
    argv[argc] = null;
    var n: usize = 0;
    const overrides = envp[base_envc..envc]; // parsed first into their final place
    for (overrides) |*e| e.* = it.next();
    if (base) |t| {
        n = t.keptEnv(overrides, envp);
        std.mem.copyForwards(?[*:0]const u8, envp[n .. n + overrides.len], envp[base_envc..envc]);
    }
    n += overrides.len;
    envp[n] = null;
    envp = envp[0 .. n + 1];
    argv = argv[0 .. argc + 1];

    if (base) |t| t.ref();
    const setup = if (base) |t| t.setup else p.setup();
    launch.* = .{
        .args = .{
            .file = file,
            .argv = @ptrCast(argv.ptr),
            .envp = @ptrCast(envp.ptr),
            .cwd_fd = if (base) |t| t.cwd_fd else -1,
            .detached = p.header.flags & abi.flag_detached != 0 or (if (base) |t| t.detached else false),
            .controlling_tty = p.header.flags & abi.flag_ctty != 0,
            .sources = sources[0..p.slots.len],
            .report = undefined, // set below, once the launch has its address
        },
        .block = block,
        .stack = stack,
        .exec_word = 1,
        .report = .{ .stage = .none, .errno = 0 },
        .pid = -1,
        .pidfd = -1,
        .cwd_path = cwd_path,
        .cgroup_path = if (base != null) null else cgroup_path,
        .cgroup_fd = if (base) |t| t.cgroup_fd else if (p.header.flags & abi.flag_cgroup_fd != 0) p.header.cgroup_fd else -1,
        .base = base,
        .setup = setup,
    };
    launch.args.credentials = setup.credentials;
    launch.args.keep_nofile = setup.keep_nofile;
    launch.args.death_signal = setup.death_signal;
    launch.args.rlimits = launch.setup.rlimits[0..setup.rlimit_count];
    launch.args.report = &launch.report;
    launch.string_bytes_bound = p.strings.len + if (base) |t| t.strings_len else 0;
    launch.argc = argc;
    launch.envc = n;
    return launch;
}

/// A prepared launch: path, cwd, argv and envp parsed once into engine memory, launched many
/// times with an overlay (slots, extra args, a few env entries) and nothing else re-encoded.
pub const Template = struct {
    block: []align(16) u8,
    file: [*:0]const u8,
    /// O_PATH|O_CLOEXEC, owned by the template, or -1: children fchdir into it.
    cwd_fd: i32,
    detached: bool,
    argv: []const ?[*:0]const u8,
    envp: []const ?[*:0]const u8,
    /// The child setup every launch from this template gets, and its cgroup (an fd the template
    /// owns: opened from the path, or a dup of the caller's), or -1.
    setup: Setup,
    cgroup_fd: i32,
    /// One for the owner, one per launch whose child may still read our strings.
    refs: std.atomic.Value(u32),
    /// The bytes of file, cwd, argv and envp with their NULs: a bound on what a launch copies.
    strings_len: usize,

    pub fn create(request: []const u8) union(enum) { ok: *Template, failed: Failure } {
        const p = parse(request) orelse return .{ .failed = .{ .stage = .resource, .errno = sys.EINVAL } };
        if (p.header.argc == 0) return .{ .failed = .{ .stage = .resource, .errno = sys.EINVAL } };
        const argc = p.header.argc;
        const envc = p.header.envc;
        const total = @sizeOf(Template) + (argc + envc) * @sizeOf(usize) + p.strings.len;
        const block = allocator.alignedAlloc(u8, .@"16", total) catch return .{ .failed = .{ .stage = .resource, .errno = sys.ENOMEM } };
        const t: *Template = @ptrCast(block.ptr);
        const ptrs: [*]?[*:0]const u8 = @ptrCast(@alignCast(block.ptr + @sizeOf(Template)));
        const strings = block[total - p.strings.len ..];
        @memcpy(strings, p.strings);
        var it = Strings{ .bytes = strings };
        const file = it.next();
        var cwd_fd: i32 = -1;
        if (p.header.flags & abi.flag_cwd != 0) {
            const cwd = it.next();
            const rc = sys.openat(sys.AT_FDCWD, cwd, sys.O_PATH | sys.O_DIRECTORY | sys.O_CLOEXEC);
            if (sys.errnoOf(rc) != 0) {
                allocator.free(block);
                return .{ .failed = .{ .stage = .cwd, .errno = sys.errnoOf(rc) } };
            }
            cwd_fd = sys.asFd(rc);
        }
        var cgroup_fd: i32 = -1;
        const cgroup = if (p.header.flags & abi.flag_cgroup_path != 0)
            sys.openat(sys.AT_FDCWD, it.next(), sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC)
        else if (p.header.flags & abi.flag_cgroup_fd != 0)
            sys.dupfdCloexec(p.header.cgroup_fd, 0)
        else
            0;
        if (sys.errnoOf(cgroup) != 0) {
            if (cwd_fd >= 0) sys.close(cwd_fd);
            allocator.free(block);
            return .{ .failed = .{ .stage = .cgroup, .errno = sys.errnoOf(cgroup) } };
        }
        if (p.header.flags & (abi.flag_cgroup_path | abi.flag_cgroup_fd) != 0) cgroup_fd = sys.asFd(cgroup);
        for (0..argc + envc) |i| ptrs[i] = it.next();
        t.* = .{
            .block = block,
            .file = file,
            .cwd_fd = cwd_fd,
            .detached = p.header.flags & abi.flag_detached != 0,
            .argv = ptrs[0..argc],
            .envp = ptrs[argc .. argc + envc],
            .setup = p.setup(),
            .cgroup_fd = cgroup_fd,
            .refs = .init(1),
            .strings_len = p.strings.len,
        };
        return .{ .ok = t };
    }

    pub fn ref(t: *Template) void {
        _ = t.refs.fetchAdd(1, .monotonic);
    }

    pub fn unref(t: *Template) void {
        if (t.refs.fetchSub(1, .acq_rel) != 1) return;
        if (t.cwd_fd >= 0) sys.close(t.cwd_fd);
        if (t.cgroup_fd >= 0) sys.close(t.cgroup_fd);
        allocator.free(t.block);
    }

    /// Writes into `out` the template's env entries whose key no override sets; returns how many.
    fn keptEnv(t: *const Template, overrides: []const ?[*:0]const u8, out: []?[*:0]const u8) usize {
        if (overrides.len == 0) {
            @memcpy(out[0..t.envp.len], t.envp);
            return t.envp.len;
        }
        var n: usize = 0;
        for (t.envp) |entry| {
            const key = envKey(entry.?);
            const overridden = for (overrides) |o| {
                if (std.mem.eql(u8, key, envKey(o.?))) break true;
            } else false;
            if (overridden) continue;
            out[n] = entry;
            n += 1;
        }
        return n;
    }
};

/// Walks NUL-terminated strings that parse() counted, with the vectorised byte search.
const Strings = struct {
    bytes: []const u8,
    pos: usize = 0,

    fn next(self: *Strings) [*:0]const u8 {
        const end = std.mem.indexOfScalarPos(u8, self.bytes, self.pos, 0).?;
        defer self.pos = end + 1;
        return @ptrCast(self.bytes[self.pos..end :0].ptr);
    }
};

fn envKey(entry: [*:0]const u8) []const u8 {
    const s = std.mem.span(entry);
    return s[0 .. std.mem.indexOfScalar(u8, s, '=') orelse s.len];
}

/// The fds this launch made, so a failure can undo exactly them.
const Made = struct {
    cwd_fd: i32 = -1,
    cgroup_fd: i32 = -1,
    child_ends: [abi.max_slots]i32 = undefined,
    child_end_count: usize = 0,
    launch: ?*Launch = null,

    fn closeChildEnds(self: *Made) void {
        for (self.child_ends[0..self.child_end_count]) |fd| sys.close(fd);
        if (self.cwd_fd >= 0) sys.close(self.cwd_fd);
        if (self.cgroup_fd >= 0) sys.close(self.cgroup_fd);
        self.* = .{};
    }

    fn undo(self: *Made, parent_fds: []i32) void {
        for (parent_fds) |*fd| if (fd.* >= 0) {
            sys.close(fd.*);
            fd.* = -1;
        };
        self.closeChildEnds();
    }
};

/// Everything the child needs, checked and made before clone, so that the errors Bun reports
/// synchronously (missing cwd, not executable, bad fd) are reported synchronously here too.
fn prepare(launch: *Launch, p: Parsed, parent_fds: []i32, made: *Made) ?Failure {
    made.launch = launch;
    for (parent_fds) |*fd| fd.* = -1;
    var dir: i32 = if (launch.base) |t| t.cwd_fd else sys.AT_FDCWD;
    if (dir < 0) dir = sys.AT_FDCWD;
    if (launch.cwd_path) |cwd| {
        const rc = sys.openat(sys.AT_FDCWD, cwd, sys.O_PATH | sys.O_DIRECTORY | sys.O_CLOEXEC);
        if (sys.errnoOf(rc) != 0) return .{ .stage = .cwd, .errno = sys.errnoOf(rc) };
        dir = sys.asFd(rc);
        made.cwd_fd = dir;
    }
    if (launch.base == null) launch.args.cwd_fd = made.cwd_fd;
    if (checkExecutable(dir, launch.args.file, launch.args.credentials)) |errno| return .{ .stage = .exec, .errno = errno };
    if (argumentsRefused(launch)) return .{ .stage = .exec, .errno = sys.E2BIG };
    if (launch.cgroup_path) |path| {
        // Opened here, so a relative path means our cwd (the helper's: the caller's, shipped).
        const rc = sys.openat(sys.AT_FDCWD, path, sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC);
        if (sys.errnoOf(rc) != 0) return .{ .stage = .cgroup, .errno = sys.errnoOf(rc) };
        made.cgroup_fd = sys.asFd(rc);
        launch.cgroup_fd = made.cgroup_fd;
    }
    if (credentialsRefused(launch.args.credentials)) |errno| return .{ .stage = .credentials, .errno = errno };
    // The death-signal check compares getppid() with the process that clones (not a thread id).
    if (launch.args.death_signal != 0) launch.args.parent_pid = sys.getpid();

    const sources = @constCast(launch.args.sources);
    for (p.slots, 0..) |slot, i| {
        sources[i] = switch (slot.kind) {
            .none => -1,
            .ignore => if (i == 0) devnull_read_fd else devnull_fd,
            .inherit, .fd => blk: {
                if (sys.errnoOf(sys.fcntl(slot.fd, sys.F_GETFD, 0)) != 0) return .{ .stage = .fd, .errno = sys.EBADF };
                break :blk slot.fd;
            },
            .pipe => blk: {
                var pair: [2]i32 = undefined;
                const rc = linux.socketpair(linux.AF.UNIX, linux.SOCK.STREAM | linux.SOCK.CLOEXEC, 0, &pair);
                if (sys.errnoOf(rc) != 0) return .{ .stage = .resource, .errno = sys.errnoOf(rc) };
                parent_fds[i] = pair[0];
                made.child_ends[made.child_end_count] = pair[1];
                made.child_end_count += 1;
                _ = sys.fcntl(pair[0], sys.F_SETFL, sys.O_NONBLOCK | sys.O_RDWR);
                break :blk pair[1];
            },
            _ => return .{ .stage = .resource, .errno = sys.EINVAL },
        };
    }
    return null;
}

/// setgid/setuid would refuse in the child, but only after spawn() returned; Bun (vfork) reports
/// it at once. The kernel's rule: -1 is EINVAL; without CAP_SETGID/CAP_SETUID the new id must be
/// one of the real, effective or saved ids. The child's own calls stay the authority.
fn credentialsRefused(c: child.Credentials) ?i32 {
    if (!c.set_uid and !c.set_gid) return null;
    const none = std.math.maxInt(u32);
    if ((c.set_gid and c.gid == none) or (c.set_uid and c.uid == none)) return sys.EINVAL;
    const caps = sys.effectiveCaps();
    var ids: [3]u32 = undefined;
    if (c.set_gid and caps & (1 << sys.CAP_SETGID) == 0) {
        if (sys.errnoOf(sys.getresgid(&ids)) == 0 and std.mem.indexOfScalar(u32, &ids, c.gid) == null) return sys.EPERM;
    }
    if (c.set_uid and caps & (1 << sys.CAP_SETUID) == 0) {
        if (sys.errnoOf(sys.getresuid(&ids)) == 0 and std.mem.indexOfScalar(u32, &ids, c.uid) == null) return sys.EPERM;
    }
    return null;
}

/// execve would fail the same way, but only after spawn() returned; Bun reports these at once.
/// The execute permission is the child's: with a new uid it is judged for that uid (below).
fn checkExecutable(dir: i32, file: [*:0]const u8, credentials: child.Credentials) ?i32 {
    var st: linux.Stat = undefined;
    const rc = linux.fstatat(dir, file, &st, 0);
    if (sys.errnoOf(rc) != 0) return sys.errnoOf(rc);
    if (st.mode & linux.S.IFMT == linux.S.IFDIR) return sys.EACCES;
    if (credentials.set_uid and credentials.uid != linux.geteuid()) {
        if (!executableAs(&st, credentials)) return sys.EACCES;
    } else {
        const access = linux.faccessat(dir, file, linux.X_OK, 0);
        if (sys.errnoOf(access) != 0) return sys.errnoOf(access);
    }
    const format = exec_format.check(dir, file, &st);
    return if (format != 0) format else null;
}

/// execve's E2BIG, known before clone (Bun's vfork reports it at once; ours would only reach
/// onExit). The kernel's rule (fs/exec.c, bprm_stack_limits and copy_strings): a quarter of the
/// child's stack limit, at most 6 MiB and at least ARG_MAX (128 KiB), must hold one pointer per
/// argv and envp entry plus every string with its NUL (the file name too), and no single string
/// may exceed MAX_ARG_STRLEN (32 pages). The strings are measured only when their upper bound
/// does not already fit: the common launch pays one comparison.
fn argumentsRefused(launch: *const Launch) bool {
    const page = std.heap.pageSize();
    const max_arg_strlen = 32 * page;
    var limit: u64 = 6 * 1024 * 1024;
    limit = @min(limit, stackLimitOf(launch) / 4);
    limit = @max(limit, 128 * 1024);
    const pointer_bytes = (@max(launch.argc, 1) + launch.envc) * @sizeOf(usize);
    if (limit <= pointer_bytes) return true;
    limit -= pointer_bytes;
    if (launch.string_bytes_bound <= @min(limit, max_arg_strlen)) return false;
    var total: usize = std.mem.len(launch.args.file) + 1;
    for ([_][*:null]const ?[*:0]const u8{ launch.args.argv, launch.args.envp }) |list| {
        var i: usize = 0;
        while (list[i]) |string| : (i += 1) {
            const bytes = std.mem.len(string) + 1;
            if (bytes > max_arg_strlen) return true;
            total += bytes;
        }
    }
    return total > limit;
}

/// The soft RLIMIT_STACK the child execs with: the request's, else ours.
fn stackLimitOf(launch: *const Launch) u64 {
    for (launch.args.rlimits) |r| {
        if (r.resource == sys.RLIMIT_STACK and r.soft != abi.rlim_keep) return r.soft;
    }
    var own: sys.Rlimit64 = undefined;
    if (sys.errnoOf(sys.prlimit(sys.RLIMIT_STACK, null, &own)) != 0) return std.math.maxInt(u64);
    return own.cur;
}

/// The kernel's execute check for the identity the child takes: a changed uid needed
/// CAP_SETUID, so the child also dropped every supplementary group (child.applyCredentials) and,
/// as a non-root uid, every capability. Left out: POSIX ACLs (execve stays the authority; an ACL
/// that grants what the mode bits refuse is then refused here early).
fn executableAs(st: *const linux.Stat, c: child.Credentials) bool {
    const gid = if (c.set_gid) c.gid else linux.getegid();
    if (c.uid == 0) return st.mode & 0o111 != 0;
    const bits = if (st.uid == c.uid) st.mode >> 6 else if (st.gid == gid) st.mode >> 3 else st.mode;
    return bits & 1 != 0;
}

const CLONE_VM = 0x100;
const CLONE_PIDFD = 0x1000;
const CLONE_VFORK = 0x4000;
const CLONE_CHILD_CLEARTID = 0x200000;

/// CLONE_VM without CLONE_VFORK: the parent returns at once while the child runs on its own
/// stack in our memory. No exit signal (the low byte is 0) until exec, where the kernel resets it
/// to SIGCHLD (de_thread): the reaper reaps by pidfd and survives a waitpid(-1) elsewhere.
/// Set once the kernel (or what stands in for it) refuses CLONE_VM without CLONE_VFORK: qemu-user
/// (arm64 under emulation, Docker's multi-arch builds) answers EINVAL, as it cannot run a child
/// on a shared mm while the parent goes on. From then on every launch suspends its thread until
/// the child has exec'd, as posix_spawn does: correct, only not pauseless. FORKLESS_FORCE_VFORK=1
/// sets it from the start (tests of this path on hardware that never needs it).
pub var vfork_only = std.atomic.Value(bool).init(false);

fn clone(launch: *Launch, asked_vfork: bool) ?i32 {
    const vfork = asked_vfork or vfork_only.load(.monotonic);
    // Block everything on this thread around clone so that none of our handlers can run in the
    // child before it resets them; the child starts with this full mask and empties it itself.
    // glibc's SIGSETXID too (as its posix_spawn does): a set*id elsewhere waits for this thread
    // only until clone returns, or with CLONE_VFORK until the child has exec'd: bounded.
    const all: u64 = ~@as(u64, 0);
    var old: u64 = 0;
    _ = sys.sigprocmask(sys.SIG_SETMASK, &all, &old);
    defer _ = sys.sigprocmask(sys.SIG_SETMASK, &old, null);
    var pidfd: i32 = -1;
    // CLONE_CHILD_CLEARTID: the kernel zeroes exec_word when the child execs or exits (its
    // mm_release, since it shares our mm): that is how we learn the stack is free, with no pipe.
    const flags: u32 = CLONE_VM | CLONE_PIDFD | CLONE_CHILD_CLEARTID | @as(u32, if (vfork) CLONE_VFORK else 0);
    const exec_word = &launch.exec_word;
    const top = @intFromPtr(launch.stack.ptr) + launch.stack.len;
    var rc = if (launch.cgroup_fd >= 0)
        cloneIntoCgroup(launch, flags, &pidfd)
    else
        linux.clone(child.main, top, flags, @intFromPtr(&launch.args), &pidfd, 0, exec_word);
    if (launch.cgroup_fd >= 0 and sys.errnoOf(rc) == sys.EBADF) {
        // Not a cgroup v2 directory: a v1 hierarchy (or no cgroup at all, which the open of
        // cgroup.procs reports, ENOENT). The child joins by writing to cgroup.procs itself.
        const procs = sys.openat(launch.cgroup_fd, "cgroup.procs", sys.O_WRONLY | sys.O_CLOEXEC);
        if (sys.errnoOf(procs) != 0) return sys.errnoOf(procs);
        launch.args.cgroup_procs_fd = sys.asFd(procs);
        defer sys.close(launch.args.cgroup_procs_fd); // the child has its own copy from clone on
        rc = linux.clone(child.main, top, flags, @intFromPtr(&launch.args), &pidfd, 0, exec_word);
    }
    if (!vfork and sys.errnoOf(rc) == sys.EINVAL) {
        vfork_only.store(true, .monotonic);
        return clone(launch, true);
    }
    if (sys.errnoOf(rc) != 0) return sys.errnoOf(rc);
    launch.pid = @intCast(rc);
    launch.pidfd = pidfd;
    return null;
}

/// Our dumpable flag, kept through children that change their ids. The kernel's commit_creds
/// marks the *mm* non-dumpable when a uid or gid changes, and until execve the child's mm is
/// ours (CLONE_VM): one spawn with a `uid` left this whole process without core dumps, with a
/// root-owned /proc/<pid>, and refusing ptrace and perf attach. The mark is right while such a
/// child still runs in our memory (the new uid must not ptrace its way into it), so the flag is
/// put back only when no such child is left before its exec: the last `end` restores it.
const identity = struct {
    var mutex: std.Thread.Mutex = .{};
    var in_flight: usize = 0;
    var saved: usize = 1;

    fn begin() void {
        mutex.lock();
        defer mutex.unlock();
        if (in_flight == 0) saved = sys.prctl(sys.PR_GET_DUMPABLE, 0);
        in_flight += 1;
    }

    fn end() void {
        mutex.lock();
        defer mutex.unlock();
        std.debug.assert(in_flight > 0);
        in_flight -= 1;
        // PR_SET_DUMPABLE takes 0 or 1 only (2, suid_dumpable's "root only", is the kernel's).
        if (in_flight == 0 and saved <= 1 and sys.prctl(sys.PR_GET_DUMPABLE, 0) != saved) {
            _ = sys.prctl(sys.PR_SET_DUMPABLE, saved);
        }
    }
};

/// The thread that clones every child with a death signal. Linux sends PR_SET_PDEATHSIG when the
/// parent *thread* exits (and again each time the child is handed to another exiting thread), so
/// a child cloned by a Worker's thread would die with that Worker. Cloned here instead, on a
/// thread that lives as long as the process, the signal means what the option says: the
/// process that spawned it died. One launch at a time; the caller waits (a condvar handoff, a
/// few µs), and this thread blocks every signal but glibc's own two (sys.all_but_libc_internal)
/// so no handler of the runtime ever runs on it.
/// The single-threaded helper has no other thread to lose: it clones directly.
const launcher = struct {
    const Job = struct { launch: *Launch, vfork: bool, errno: ?i32 = null, done: bool = false };

    var mutex: std.Thread.Mutex = .{};
    var cond: std.Thread.Condition = .{};
    var pending: ?*Job = null;
    var once = std.once(spawnThread);
    var started = false;

    fn run(l: *Launch, vfork: bool) ?i32 {
        if (@import("builtin").single_threaded) return clone(l, vfork);
        once.call();
        if (!started) return sys.EAGAIN;
        var job = Job{ .launch = l, .vfork = vfork };
        mutex.lock();
        defer mutex.unlock();
        while (pending != null) cond.wait(&mutex);
        pending = &job;
        cond.broadcast();
        while (!job.done) cond.wait(&mutex);
        return job.errno;
    }

    fn spawnThread() void {
        const thread = std.Thread.spawn(.{ .stack_size = 64 * 1024, .allocator = allocator }, loop, .{}) catch return;
        thread.detach();
        started = true;
    }

    fn loop() void {
        _ = sys.sigprocmask(sys.SIG_SETMASK, &sys.all_but_libc_internal, null);
        mutex.lock();
        while (true) {
            while (pending == null) cond.wait(&mutex);
            const job = pending.?;
            mutex.unlock();
            job.errno = clone(job.launch, job.vfork);
            mutex.lock();
            job.done = true;
            pending = null;
            cond.broadcast();
        }
    }
};

/// clone3 with CLONE_INTO_CGROUP: the kernel places the child in the cgroup before it runs a
/// single instruction, so the cgroup's limits hold from the start and nothing can slip out
/// between a fork and a write to cgroup.procs. Same flags, stack and entry as clone() above.
fn cloneIntoCgroup(launch: *Launch, flags: u32, pidfd: *i32) usize {
    const args = sys.CloneArgs{
        .flags = @as(u64, flags) | sys.CLONE_INTO_CGROUP,
        .pidfd = @intFromPtr(pidfd),
        .child_tid = @intFromPtr(&launch.exec_word),
        .stack = @intFromPtr(launch.stack.ptr),
        .stack_size = launch.stack.len,
        .cgroup = @intCast(launch.cgroup_fd),
    };
    return sys.clone3(&args, @sizeOf(sys.CloneArgs), child.main, @intFromPtr(&launch.args));
}

/// Child stacks, reused: an mmap per spawn costs more than the rest of the parent's work.
/// Bounded both in what is kept (free list) and in what may be out at once.
const stacks = struct {
    /// The alignment every page size has; the guard itself is one runtime page (below).
    const page = std.heap.page_size_min;
    /// What the child path may use above the guard. It needs a few KiB; the rest is margin.
    const usable_bytes = 64 * 1024;
    const keep_max = 64;
    const outstanding_max = 4096;

    var mutex: std.Thread.Mutex = .{};
    var free: [keep_max][]align(page) u8 = undefined;
    var free_count: usize = 0;
    var outstanding: usize = 0;

    /// One stack's mapping for a kernel page of `page_bytes`: the lowest page is the guard. The
    /// page is the running kernel's, not the compile-time minimum: arm64 kernels use 4, 16 or
    /// 64 KiB pages, and a 4 KiB guard on a 64 KiB-page kernel would make mprotect round up and
    /// take the whole stack, which clone then writes to in the parent (SIGSEGV at first spawn).
    fn layout(page_bytes: usize) struct { total: usize, guard: usize } {
        std.debug.assert(std.math.isPowerOfTwo(page_bytes) and page_bytes >= page);
        return .{ .total = std.mem.alignForward(usize, usable_bytes, page_bytes) + page_bytes, .guard = page_bytes };
    }

    fn get() ?[]align(page) u8 {
        mutex.lock();
        defer mutex.unlock();
        if (free_count > 0) {
            free_count -= 1;
            outstanding += 1;
            return free[free_count];
        }
        if (outstanding >= outstanding_max) return null;
        const size = layout(std.heap.pageSize());
        const rc = linux.mmap(null, size.total, linux.PROT.READ | linux.PROT.WRITE, .{ .TYPE = .PRIVATE, .ANONYMOUS = true, .STACK = true, .NORESERVE = true }, -1, 0);
        if (sys.errnoOf(rc) != 0) return null;
        const mem: [*]align(page) u8 = @ptrFromInt(rc);
        // Without its guard a stack overflow in the child would write into our heap: no stack.
        if (sys.errnoOf(linux.mprotect(mem, size.guard, linux.PROT.NONE)) != 0) {
            _ = linux.munmap(mem, size.total);
            return null;
        }
        outstanding += 1;
        return mem[0..size.total];
    }

    fn put(stack: []align(page) u8) void {
        mutex.lock();
        defer mutex.unlock();
        std.debug.assert(outstanding > 0);
        outstanding -= 1;
        if (free_count < keep_max) {
            free[free_count] = stack;
            free_count += 1;
        } else {
            _ = linux.munmap(stack.ptr, stack.len);
        }
    }
};

test "stacks: the guard is one runtime page and the usable part stays 64 KiB on 4, 16 and 64 KiB pages" {
    for ([_]usize{ 4096, 16384, 65536 }) |page_bytes| {
        const size = stacks.layout(page_bytes);
        try std.testing.expectEqual(page_bytes, size.guard);
        try std.testing.expect(size.total - size.guard >= stacks.usable_bytes);
        try std.testing.expectEqual(@as(usize, 0), size.total % page_bytes);
    }
    // And the running kernel's: a stack from the pool is writable right up to its guard.
    const stack = stacks.get() orelse return error.OutOfMemory;
    defer stacks.put(stack);
    const guard = std.heap.pageSize();
    stack[guard] = 1;
    stack[stack.len - 1] = 1;
}

// ---------------------------------------------------------------------------------------------
// The child setup end to end from Zig: a request with rlimits, ids and a cgroup, launched with
// CLONE_VFORK so the child has exec'd (or reported) when start() returns.

const TestRequest = struct {
    buf: [1024]u8 align(8) = undefined,
    len: usize = 0,

    fn init(header: abi.RequestHeader, rlimits: []const abi.Rlimit, strings: []const u8) TestRequest {
        var r = TestRequest{};
        const slots = [_]abi.Slot{ .{ .kind = .ignore, .fd = -1 }, .{ .kind = .ignore, .fd = -1 }, .{ .kind = .ignore, .fd = -1 } };
        var h = header;
        h.abi = abi.version;
        h.slot_count = slots.len;
        h.rlimit_count = @intCast(rlimits.len);
        for ([_][]const u8{ std.mem.asBytes(&h), std.mem.sliceAsBytes(&slots), std.mem.sliceAsBytes(rlimits), strings }) |part| {
            @memcpy(r.buf[r.len..][0..part.len], part);
            r.len += part.len;
        }
        return r;
    }

    /// Launches and waits; returns the child's exit code, or the launch failure.
    fn run(r: *const TestRequest) union(enum) { exited: i32, failed: Failure } {
        var fds: [3]i32 = undefined;
        switch (start(r.buf[0..r.len], &fds, true, null)) {
            .failed => |f| return .{ .failed = f },
            .ok => |l| {
                var info: sys.Siginfo = undefined;
                _ = sys.waitid(sys.P_PIDFD, l.pidfd, &info, sys.WEXITED | sys.__WALL, null);
                sys.close(l.pidfd);
                const report = l.report;
                l.release();
                if (report.stage != .none) return .{ .failed = .{ .stage = report.stage, .errno = report.errno } };
                return .{ .exited = info.status };
            },
        }
    }
};

fn testInit() !void {
    if (devnull_fd < 0) try std.testing.expectEqual(@as(i32, 0), init());
}

test "child setup: limits are applied, and checked by the child itself (exit code = soft nofile % 256)" {
    try testInit();
    // sh exits with the soft limit it sees: 300 % 256 = 44.
    const limits = [_]abi.Rlimit{.{ .resource = sys.RLIMIT_NOFILE, .soft = 300, .hard = abi.rlim_keep }};
    const r = TestRequest.init(.{ .abi = 0, .flags = 0, .slot_count = 0, .argc = 3, .envc = 0 }, &limits, "/bin/sh\x00sh\x00-c\x00exit $(ulimit -Sn)\x00");
    try std.testing.expectEqual(@as(i32, 44), r.run().exited);
    // Without an explicit nofile, a soft limit above 1024 comes down to exactly 1024 (% 256 = 0),
    // and one at or below it stays.
    var old: sys.Rlimit64 = undefined;
    _ = sys.prlimit(sys.RLIMIT_NOFILE, null, &old);
    const d = TestRequest.init(.{ .abi = 0, .flags = 0, .slot_count = 0, .argc = 3, .envc = 0 }, &.{}, "/bin/sh\x00sh\x00-c\x00exit $(( $(ulimit -Sn) % 256 ))\x00");
    const want: i32 = if (old.cur > sys.FD_SETSIZE) 0 else @intCast(old.cur % 256);
    try std.testing.expectEqual(want, d.run().exited);
}

test "child setup: an id the kernel would refuse fails before clone; a bad cgroup is a cgroup failure" {
    try testInit();
    const bad_uid = TestRequest.init(.{ .abi = 0, .flags = abi.flag_uid, .slot_count = 0, .argc = 1, .envc = 0, .uid = std.math.maxInt(u32) }, &.{}, "/bin/true\x00true\x00");
    try std.testing.expectEqual(Failure{ .stage = .credentials, .errno = sys.EINVAL }, bad_uid.run().failed);
    // "/" is no cgroup v2 directory (clone3: EBADF), and has no cgroup.procs for the v1 way.
    const bad_cgroup = TestRequest.init(.{ .abi = 0, .flags = abi.flag_cgroup_path, .slot_count = 0, .argc = 1, .envc = 0 }, &.{}, "/bin/true\x00/\x00true\x00");
    try std.testing.expectEqual(Failure{ .stage = .cgroup, .errno = 2 }, bad_cgroup.run().failed);
    const missing = TestRequest.init(.{ .abi = 0, .flags = abi.flag_cgroup_path, .slot_count = 0, .argc = 1, .envc = 0 }, &.{}, "/bin/true\x00/nonexistent-cgroup\x00true\x00");
    try std.testing.expectEqual(Failure{ .stage = .cgroup, .errno = 2 }, missing.run().failed);
}

test "child setup: clone3 into our own cgroup v2 runs the child (when a cgroup2 mount is there)" {
    try testInit();
    // Our own cgroup, through /proc: joining the cgroup we are in is always allowed.
    var path_buf: [512]u8 = undefined;
    const cgroup = ownCgroupV2(&path_buf) orelse return error.SkipZigTest;
    var strings: [700]u8 = undefined;
    const text = try std.fmt.bufPrint(&strings, "/bin/sh\x00{s}\x00sh\x00-c\x00exit 5\x00", .{cgroup});
    const r = TestRequest.init(.{ .abi = 0, .flags = abi.flag_cgroup_path | abi.flag_gid, .slot_count = 0, .argc = 3, .envc = 0, .gid = std.os.linux.getgid() }, &.{}, text);
    try std.testing.expectEqual(@as(i32, 5), r.run().exited);
}

/// "<cgroup2 mount><our 0:: path>", or null without a cgroup2 mount.
fn ownCgroupV2(buf: []u8) ?[]const u8 {
    var mounts_buf: [8192]u8 = undefined;
    var self_buf: [1024]u8 = undefined;
    const mounts = sys.readSmall("/proc/self/mounts", &mounts_buf) orelse return null;
    const self = sys.readSmall("/proc/self/cgroup", &self_buf) orelse return null;
    var lines = std.mem.tokenizeScalar(u8, mounts, '\n');
    const mount = while (lines.next()) |line| {
        var fields = std.mem.tokenizeScalar(u8, line, ' ');
        _ = fields.next();
        const dir = fields.next() orelse continue;
        if (std.mem.eql(u8, fields.next() orelse "", "cgroup2")) break dir;
    } else return null;
    const at = std.mem.indexOf(u8, self, "0::") orelse return null;
    const rel = std.mem.sliceTo(self[at + 3 ..], '\n');
    return std.fmt.bufPrint(buf, "{s}{s}", .{ mount, rel }) catch null;
}

