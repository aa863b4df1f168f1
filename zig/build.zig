//! Builds the engine as a shared library (linked with libc: it lives inside Bun, a glibc
//! process, and its reaper thread must be a pthread) and runs the Zig tests.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});

    // The platform packages ship stripped libraries (npm run pack); development keeps symbols.
    const strip = b.option(bool, "strip", "Strip the engine library's symbols and debug info") orelse false;
    const engine = b.createModule(.{
        .root_source_file = b.path("src/exports.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        .strip = strip,
    });
    const lib = b.addLibrary(.{ .name = "forkless", .linkage = .dynamic, .root_module = engine });
    b.installArtifact(lib);

    const tests = b.addTest(.{ .root_module = engine });
    const run_tests = b.addRunArtifact(tests);
    b.step("test", "Run the engine's tests").dependOn(&run_tests.step);
    buildHelper(b, target, optimize, &b.top_level_steps.get("test").?.step);
}

// The container's helper (issue 4): a small static executable, zig-out/bin/forkless-helper.
// It reuses the engine's rooms through a module rooted at src/container.zig (files outside a
// module's root directory cannot be imported), single-threaded and linked with musl statically.
pub fn buildHelper(b: *std.Build, target: std.Build.ResolvedTarget, optimize: std.builtin.OptimizeMode, test_step: *std.Build.Step) void {
    const helper_target = b.resolveTargetQuery(.{ .cpu_arch = target.result.cpu.arch, .os_tag = .linux, .abi = .musl });
    const helper_engine = b.createModule(.{
        .root_source_file = b.path("src/container.zig"),
        .target = helper_target,
        .optimize = optimize,
        .link_libc = true,
        .single_threaded = true,
    });
    const helper_root = b.createModule(.{
        .root_source_file = b.path("src/helper/main.zig"),
        .target = helper_target,
        .optimize = optimize,
        .link_libc = true,
        .single_threaded = true,
        .imports = &.{.{ .name = "engine", .module = helper_engine }},
        .strip = true,
    });
    const helper = b.addExecutable(.{ .name = "forkless-helper", .root_module = helper_root, .linkage = .static });
    b.installArtifact(helper);

    // Tests: the helper's own (pure) tests, and the container end to end against the built helper.
    const helper_tests = b.addTest(.{ .root_module = helper_root });
    test_step.dependOn(&b.addRunArtifact(helper_tests).step);
    const options = b.addOptions();
    options.addOptionPath("helper_path", helper.getEmittedBin());
    const container_engine = b.createModule(.{
        .root_source_file = b.path("src/container.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    const container_test_root = b.createModule(.{
        .root_source_file = b.path("src/helper/container_test.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        .imports = &.{
            .{ .name = "engine", .module = container_engine },
            .{ .name = "build_options", .module = options.createModule() },
        },
    });
    const container_tests = b.addTest(.{ .root_module = container_test_root });
    test_step.dependOn(&b.addRunArtifact(container_tests).step);
}
