//! Builds the engine as a shared library (linked with libc: it lives inside Bun, a glibc
//! process, and its reaper thread must be a pthread) and runs the Zig tests.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});

    const engine = b.createModule(.{
        .root_source_file = b.path("src/exports.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    const lib = b.addLibrary(.{ .name = "forkless", .linkage = .dynamic, .root_module = engine });
    b.installArtifact(lib);

    const tests = b.addTest(.{ .root_module = engine });
    const run_tests = b.addRunArtifact(tests);
    b.step("test", "Run the engine's tests").dependOn(&run_tests.step);
}
