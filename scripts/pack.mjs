// `npm run pack`: builds the engine for every Linux that ships and writes the tarballs npm
// publish would send into dist/packages/: forkless (TypeScript sources, generated declarations)
// and one @forkless/<platform> package per build (the stripped library and the static helper).
// Run through bootstrap.mjs, which has installed the npm dependencies and the pinned Zig.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The platform packages: npm's os/cpu/libc fields, and the Zig target. glibc builds link
 * against glibc 2.17 (2012; CentOS 7, Ubuntu 14.04, and the first glibc with arm64), so the
 * library loads on any glibc Bun itself runs on. */
export const PLATFORMS = [
  { name: "linux-x64-gnu", cpu: "x64", libc: "glibc", target: "x86_64-linux-gnu.2.17" },
  { name: "linux-x64-musl", cpu: "x64", libc: "musl", target: "x86_64-linux-musl" },
  { name: "linux-arm64-gnu", cpu: "arm64", libc: "glibc", target: "aarch64-linux-gnu.2.17" },
  { name: "linux-arm64-musl", cpu: "arm64", libc: "musl", target: "aarch64-linux-musl" },
];

function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "inherit", "inherit"], ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`forkless pack: ${cmd} ${args.join(" ")} exited with ${r.status ?? r.signal}`);
  return r;
}

/** The fields every package of the release shares. */
function common(pkg) {
  return {
    version: pkg.version,
    license: pkg.license,
    repository: pkg.repository,
    homepage: pkg.homepage,
  };
}

/**
 * @param {string} root the repository
 * @param {(args: string[]) => [string, string[], object]} zig a zig command, as bootstrap makes it
 */
export function pack(root, zig) {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const dist = join(root, "dist");
  const stage = join(dist, "stage");
  const out = join(dist, "packages");
  rmSync(stage, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });

  for (const platform of PLATFORMS) {
    const prefix = join(dist, "build", platform.name);
    const [cmd, args, opts] = zig(["build", "-Doptimize=ReleaseSafe", "-Dstrip=true", `-Dtarget=${platform.target}`, "--prefix", prefix]);
    run(cmd, args, opts);
    const dir = join(stage, platform.name);
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(prefix, "lib", "libforkless.so"), join(dir, "libforkless.so"));
    copyFileSync(join(prefix, "bin", "forkless-helper"), join(dir, "forkless-helper"));
    chmodSync(join(dir, "forkless-helper"), 0o755);
    copyFileSync(join(root, "LICENSE"), join(dir, "LICENSE"));
    writeFileSync(
      join(dir, "README.md"),
      `# @forkless/${platform.name}\n\nThe prebuilt engine of [forkless](https://www.npmjs.com/package/forkless) for Linux ${platform.cpu} with ${platform.libc} ` +
        `(Zig target \`${platform.target}\`): \`libforkless.so\` and the container's static \`forkless-helper\`. ` +
        "Install `forkless`; the package manager picks this package when the machine matches.\n",
    );
    const manifest = {
      name: `@forkless/${platform.name}`,
      ...common(pkg),
      description: `forkless's engine for Linux ${platform.cpu} (${platform.libc})`,
      os: ["linux"],
      cpu: [platform.cpu],
      libc: [platform.libc],
      files: ["libforkless.so", "forkless-helper"],
      preferUnplugged: true,
    };
    writeFileSync(join(dir, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
  }

  // The main package: the sources Bun runs, and declarations so a consumer's tsconfig checks
  // only .d.ts files (their imports rewritten from ./x.ts to ./x.js, which resolves to x.d.ts).
  const main = join(stage, "forkless");
  mkdirSync(main, { recursive: true });
  const tsc = join(root, "node_modules", ".bin", "tsc");
  run(tsc, ["-p", join(root, "tsconfig.types.json"), "--outDir", join(main, "types")], { cwd: root });
  for (const file of readdirSync(join(main, "types"))) {
    const path = join(main, "types", file);
    writeFileSync(path, readFileSync(path, "utf8").replace(/(from |import\()"(\.\/[^"]+)\.ts"/g, '$1"$2.js"'));
  }
  cpSync(join(root, "src"), join(main, "src"), { recursive: true });
  for (const file of ["README.md", "CHANGELOG.md", "LICENSE"]) copyFileSync(join(root, file), join(main, file));
  const manifest = {
    name: pkg.name,
    ...common(pkg),
    description: pkg.description,
    keywords: pkg.keywords,
    type: "module",
    engines: pkg.engines,
    exports: {
      ".": { types: "./types/index.d.ts", default: "./src/index.ts" },
      "./global": { types: "./types/global.d.ts", default: "./src/global.ts" },
      "./package.json": "./package.json",
    },
    types: "./types/index.d.ts",
    files: ["src", "types", "CHANGELOG.md"],
    dependencies: pkg.dependencies,
    optionalDependencies: Object.fromEntries(PLATFORMS.map((p) => [`@forkless/${p.name}`, pkg.version])),
  };
  writeFileSync(join(main, "package.json"), JSON.stringify(manifest, null, 2) + "\n");

  for (const dir of [main, ...PLATFORMS.map((p) => join(stage, p.name))]) {
    run("npm", ["pack", "--silent", "--pack-destination", out], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  }
  const tarballs = readdirSync(out).sort();
  console.log(`forkless pack: ${tarballs.length} tarballs in ${out}:\n${tarballs.map((t) => `  ${t}`).join("\n")}`);
  return tarballs.map((t) => join(out, t));
}
